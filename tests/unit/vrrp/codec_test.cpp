#include <catch2/catch.hpp>

#include "cplb/vrrp/codec.hpp"
#include "test_util.hpp"

// Expected bytes come from two independent sources, never from the code under test:
// - "captured": sent by keepalived 2.2.7 (/usr/sbin/keepalived) in a throwaway network namespace
//   (cplbt-vrrpcap-v2 / -v3) on a veth pair, 192.0.2.1/24 <-> 192.0.2.2/24, config
//   `vrrp_instance VI_1 { interface vcap0; virtual_router_id 51; priority 100; advert_int 1;
//   virtual_ipaddress { 192.0.2.100/24 } }` with `vrrp_version 3` / `2` in global_defs, run as
//   `keepalived -n -l -D -G -P -f CONF -p PID -r VRRPPID` and stopped with SIGTERM (which sends
//   the priority-0 advert). Captured with a Python AF_PACKET socket bound to vcap1.
// - "hand-built": packed from the RFC 5798 5.1 / RFC 3768 5.1 layouts by a Python one-off with
//   its own RFC 1071 checksum (struct.pack the fields, sum the 16-bit words with the pseudo-header
//   src, dst, 0, 112, length for v3, fold, complement); it also re-verified the captured ones.
//   IPv6: the pseudo-header of RFC 8200 8.1 (src, dst, 32-bit length, three zeros, 112).

namespace cplb::vrrp {
namespace {

using test::from_hex;
using test::operator""_cs;
using test::ip;
using test::ip6;
using test::to_hex;
using namespace std::chrono_literals;

constexpr ip_address keepalived_src = ip(192, 0, 2, 1);

/// An advert the way the tables write it.
advert make(unsigned version, std::uint8_t vrid, std::uint8_t prio, centiseconds interval,
            std::vector<ip_address> addresses, ip_address sender) {
  return advert{version, vrid, prio, interval, std::move(addresses), sender};
}

struct vector_case {
  const char* name;
  const char* hex;  ///< the VRRP message
  ip_address src;
  ip_address dst;
  advert expected;
};

TEST_CASE("decode and encode agree with captured and hand-built packets", "[vrrp][codec]") {
  const std::vector<vector_case> cases{
      {"captured keepalived v3 master advert", "31 33 64 01 00 64 05 72 c0 00 02 64", keepalived_src,
       multicast_group, make(3, 51, 100, 100_cs, {ip(192, 0, 2, 100)}, keepalived_src)},
      {"captured keepalived v3 priority 0 on SIGTERM", "31 33 00 01 00 64 69 72 c0 00 02 64", keepalived_src,
       multicast_group, make(3, 51, 0, 100_cs, {ip(192, 0, 2, 100)}, keepalived_src)},
      {"captured keepalived v2 master advert (auth type 0, 8 zero auth bytes)",
       "21 33 64 01 00 01 b8 65 c0 00 02 64 00 00 00 00 00 00 00 00", keepalived_src, multicast_group,
       make(2, 51, 100, 1s, {ip(192, 0, 2, 100)}, keepalived_src)},
      {"captured keepalived v2 priority 0 on SIGTERM",
       "21 33 00 01 00 01 1c 66 c0 00 02 64 00 00 00 00 00 00 00 00", keepalived_src, multicast_group,
       make(2, 51, 0, 1s, {ip(192, 0, 2, 100)}, keepalived_src)},
      {"hand-built v3 unicast, 500ms, two VIPs", "31 01 fe 02 00 32 c7 68 c0 00 02 64 c0 00 02 65",
       ip(192, 0, 2, 10), ip(192, 0, 2, 11),
       make(3, 1, 254, 50_cs, {ip(192, 0, 2, 100), ip(192, 0, 2, 101)}, ip(192, 0, 2, 10))},
      {"hand-built v3 largest interval 40.95s", "31 07 01 01 0f ff 59 03 c0 00 02 64", keepalived_src,
       multicast_group, make(3, 7, 1, 4095_cs, {ip(192, 0, 2, 100)}, keepalived_src)},
      {"hand-built v3 without addresses", "31 09 64 00 00 64 c8 05", keepalived_src, multicast_group,
       make(3, 9, 100, 100_cs, {}, keepalived_src)},
      {"hand-built v2 owner priority 255, vrid 255, 3s, three VIPs",
       "21 ff ff 03 00 03 97 c8 c0 00 02 64 c0 00 02 65 c0 00 02 66 00 00 00 00 00 00 00 00",
       keepalived_src, multicast_group,
       make(2, 255, 255, 3s, {ip(192, 0, 2, 100), ip(192, 0, 2, 101), ip(192, 0, 2, 102)}, keepalived_src)},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto bytes = from_hex(c.hex);
      const auto got = decode(bytes, c.src, c.dst);
      INFO(to_string(got.error));
      REQUIRE(got.ok());
      CHECK(got.value == c.expected);
      CHECK(to_hex(encode(c.expected, c.dst)) == to_hex(bytes));
    }
  }
}

TEST_CASE("v3 over IPv6: 16-byte addresses, the IPv6 pseudo-header", "[vrrp][codec]") {
  const struct {
    const char* name;
    const char* hex;
    ip_address src;
    ip_address dst;
    advert expected;
  } cases[] = {
      {"hand-built multicast from a link-local address",
       "31 33 64 01 00 64 3d 8f 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 01 00", ip6("fe80::1"),
       multicast_group_v6, make(3, 51, 100, 100_cs, {ip6("2001:db8::100")}, ip6("fe80::1"))},
      {"hand-built unicast, 500ms, two VIPs",
       "31 01 fe 02 00 32 75 a7 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 01 00"
       " 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 01 01",
       ip6("fe80::a"), ip6("fe80::b"),
       make(3, 1, 254, 50_cs, {ip6("2001:db8::100"), ip6("2001:db8::101")}, ip6("fe80::a"))},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto bytes = from_hex(c.hex);
      const auto got = decode(bytes, c.src, c.dst);
      INFO(to_string(got.error));
      REQUIRE(got.ok());
      CHECK(got.value == c.expected);
      CHECK(to_hex(encode(c.expected, c.dst)) == to_hex(bytes));
    }
  }
  SECTION("the checksum covers the IPv6 addresses") {
    const auto bytes = from_hex("31 33 64 01 00 64 3d 8f 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 01 00");
    CHECK(decode(bytes, ip6("fe80::2"), multicast_group_v6).error == decode_error::bad_checksum);
    CHECK(decode(bytes, ip6("fe80::1"), ip6("ff02::1")).error == decode_error::bad_checksum);
  }
  SECTION("an IPv4-sized address list is a length mismatch over IPv6") {
    CHECK(decode(from_hex("31 33 64 01 00 64 05 72 c0 00 02 64"), ip6("fe80::1"), multicast_group_v6).error ==
          decode_error::length_mismatch);
  }
  SECTION("v2 does not exist over IPv6") {
    CHECK(decode(from_hex("21 33 64 01 00 01 b8 65 c0 00 02 64 00 00 00 00 00 00 00 00"), ip6("fe80::1"),
                 multicast_group_v6)
              .error == decode_error::bad_version);
  }
}

TEST_CASE("v3 ignores the reserved bits above the interval", "[vrrp][codec]") {
  // Hand-built: rsvd = 0xf, interval 100 cs, checksum computed over the bits as sent.
  const auto got = decode(from_hex("31 33 64 01 f0 64 15 71 c0 00 02 64"), keepalived_src, multicast_group);
  REQUIRE(got.ok());
  CHECK(got.value.max_advert_interval == 100_cs);
}

TEST_CASE("v2 checksum does not depend on the IP addresses, v3 does", "[vrrp][codec]") {
  const auto v2 = from_hex("21 33 64 01 00 01 b8 65 c0 00 02 64 00 00 00 00 00 00 00 00");
  CHECK(decode(v2, ip(192, 0, 2, 7), ip(192, 0, 2, 8)).ok());
  const auto v3 = from_hex("31 33 64 01 00 64 05 72 c0 00 02 64");
  CHECK(decode(v3, keepalived_src, ip(192, 0, 2, 2)).error == decode_error::bad_checksum);
  CHECK(decode(v3, ip(192, 0, 2, 3), multicast_group).error == decode_error::bad_checksum);
}

TEST_CASE("decode rejects malformed messages with a reason", "[vrrp][codec]") {
  struct bad_case {
    const char* name;
    const char* hex;
    decode_error expected;
  };
  const std::vector<bad_case> cases{
      {"empty", "", decode_error::too_short},
      {"seven bytes", "31 33 64 01 00 64 05", decode_error::too_short},
      {"version 1", "11 33 64 01 00 64 05 72 c0 00 02 64", decode_error::bad_version},
      {"version 4", "41 33 64 01 00 64 05 72 c0 00 02 64", decode_error::bad_version},
      {"type 2", "32 33 64 01 00 64 05 72 c0 00 02 64", decode_error::bad_type},
      {"type 0", "30 33 64 01 00 64 05 72 c0 00 02 64", decode_error::bad_type},
      {"vrid 0", "31 00 64 01 00 64 05 72 c0 00 02 64", decode_error::zero_vrid},
      {"count 2 but one address", "31 33 64 02 00 64 05 72 c0 00 02 64", decode_error::length_mismatch},
      {"count 0 but one address", "31 33 64 00 00 64 05 72 c0 00 02 64", decode_error::length_mismatch},
      {"a trailing byte", "31 33 64 01 00 64 05 72 c0 00 02 64 00", decode_error::length_mismatch},
      {"v2 without its auth data", "21 33 64 01 00 01 b8 65 c0 00 02 64", decode_error::length_mismatch},
      {"v2 auth type 1 (simple text)", "21 33 64 01 01 01 b8 65 c0 00 02 64 00 00 00 00 00 00 00 00",
       decode_error::bad_auth_type},
      {"v2 auth type 2 (AH)", "21 33 64 01 02 01 b8 65 c0 00 02 64 00 00 00 00 00 00 00 00",
       decode_error::bad_auth_type},
      {"v3 interval 0", "31 33 64 01 00 00 05 72 c0 00 02 64", decode_error::zero_interval},
      {"v2 interval 0", "21 33 64 01 00 00 b8 65 c0 00 02 64 00 00 00 00 00 00 00 00",
       decode_error::zero_interval},
      {"v3 address changed", "31 33 64 01 00 64 05 72 c0 00 02 65", decode_error::bad_checksum},
      {"v3 priority changed", "31 33 65 01 00 64 05 72 c0 00 02 64", decode_error::bad_checksum},
      {"v2 auth data not zero (covered by the checksum)",
       "21 33 64 01 00 01 b8 65 c0 00 02 64 00 00 00 00 00 00 00 01", decode_error::bad_checksum},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto got = decode(from_hex(c.hex), keepalived_src, multicast_group);
      CHECK(to_string(got.error) == std::string(to_string(c.expected)));
    }
  }
}

TEST_CASE("encode then decode returns the advert", "[vrrp][codec]") {
  const std::vector<advert> adverts{
      make(3, 1, 1, 1_cs, {ip(10, 0, 0, 100)}, ip(10, 0, 0, 11)),
      make(3, 200, 254, 300_cs, {ip(10, 0, 0, 100), ip(10, 0, 0, 101), ip(10, 0, 0, 102)}, ip(10, 0, 0, 12)),
      make(2, 51, 150, 255s, {ip(10, 0, 0, 100)}, ip(10, 0, 0, 13)),
      make(2, 52, 0, 1s, {}, ip(10, 0, 0, 14)),
  };
  for (const auto& a : adverts) {
    for (const ip_address dst : {multicast_group, ip(10, 0, 0, 99)}) {
      const auto got = decode(encode(a, dst), a.sender, dst);
      REQUIRE(got.ok());
      CHECK(got.value == a);
    }
  }
}

TEST_CASE("addresses print as text", "[vrrp][codec]") {
  CHECK(ip(192, 0, 2, 100).to_string() == "192.0.2.100");
  CHECK(multicast_group.to_string() == "224.0.0.18");
  CHECK(multicast_group_v6.to_string() == "ff02::12");
  CHECK(ip6("2001:db8::100").is_v6());
  CHECK(ip6("fe80::1").is_link_local());
  CHECK_FALSE(ip6("2001:db8::1").is_link_local());
  CHECK(ip(192, 0, 2, 1) < ip(192, 0, 2, 2));
  CHECK(ip6("fe80::1") < ip6("fe80::1:0"));
  CHECK(format_ipv4(0) == "0.0.0.0");
  CHECK(format_ipv4(0xffffffff) == "255.255.255.255");
}

}  // namespace
}  // namespace cplb::vrrp
