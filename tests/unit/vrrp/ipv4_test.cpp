#include <catch2/catch.hpp>

#include "cplb/vrrp/codec.hpp"
#include "test_util.hpp"

namespace cplb::vrrp {
namespace {

using test::from_hex;
using test::ip;
using test::to_hex;

// The whole IPv4 packet keepalived 2.2.7 sent as v3 master (see codec_test.cpp for the capture):
// TOS 0xc0, id 1, TTL 255, protocol 112, 192.0.2.1 -> 224.0.0.18.
constexpr const char* captured_v3 =
    "45 c0 00 20 00 01 00 00 ff 70 18 99 c0 00 02 01 e0 00 00 12"
    "31 33 64 01 00 64 05 72 c0 00 02 64";
// The same for v2 (40 bytes: 20 of VRRP message, 8 of them auth data).
constexpr const char* captured_v2 =
    "45 c0 00 28 00 01 00 00 ff 70 18 91 c0 00 02 01 e0 00 00 12"
    "21 33 64 01 00 01 b8 65 c0 00 02 64 00 00 00 00 00 00 00 00";

TEST_CASE("parse_ipv4_packet splits captured keepalived packets", "[vrrp][ipv4]") {
  for (const char* hex : {captured_v3, captured_v2}) {
    const auto bytes = from_hex(hex);
    const auto got = parse_ipv4_packet(bytes);
    REQUIRE(got.ok());
    CHECK(got.value.source == ip(192, 0, 2, 1));
    CHECK(got.value.destination == multicast_group);
    CHECK(got.value.ttl == required_ttl);
    CHECK(to_hex(got.value.payload) == to_hex(std::span(bytes).subspan(20)));
    const auto message = decode(got.value.payload, got.value.source, got.value.destination);
    REQUIRE(message.ok());
    CHECK(message.value.virtual_router_id == 51);
    CHECK(message.value.sender == ip(192, 0, 2, 1));
  }
}

TEST_CASE("parse_ipv4_packet honours options and the total length", "[vrrp][ipv4]") {
  SECTION("IHL 6: a 4-byte option before the payload") {
    const auto bytes = from_hex("46 c0 00 20 00 01 00 00 40 70 00 00 c0 00 02 01 c0 00 02 02"
                                "94 04 00 00  31 33 64 01 00 64 05 72");
    const auto got = parse_ipv4_packet(bytes);
    REQUIRE(got.ok());
    CHECK(got.value.ttl == 64);
    CHECK(got.value.destination == ip(192, 0, 2, 2));
    CHECK(to_hex(got.value.payload) == "3133640100640572");
  }
  SECTION("bytes past the total length are not payload") {
    const auto bytes = from_hex("45 c0 00 18 00 01 00 00 ff 70 00 00 c0 00 02 01 e0 00 00 12"
                                "31 33 64 01  ee ee");
    const auto got = parse_ipv4_packet(bytes);
    REQUIRE(got.ok());
    CHECK(to_hex(got.value.payload) == "31336401");
  }
  SECTION("DF set is fine") {
    CHECK(parse_ipv4_packet(from_hex("45 c0 00 14 00 01 40 00 ff 70 00 00 c0 00 02 01 e0 00 00 12")).ok());
  }
}

TEST_CASE("parse_ipv4_packet rejects malformed headers with a reason", "[vrrp][ipv4]") {
  struct bad_case {
    const char* name;
    const char* hex;
    decode_error expected;
  };
  const std::vector<bad_case> cases{
      {"19 bytes", "45 c0 00 13 00 01 00 00 ff 70 00 00 c0 00 02 01 e0 00 00", decode_error::too_short},
      {"IPv6 version nibble", "65 c0 00 14 00 01 00 00 ff 70 00 00 c0 00 02 01 e0 00 00 12",
       decode_error::bad_ip_version},
      {"IHL 4", "44 c0 00 14 00 01 00 00 ff 70 00 00 c0 00 02 01 e0 00 00 12", decode_error::bad_ip_header_length},
      {"IHL 6 past the end", "46 c0 00 14 00 01 00 00 ff 70 00 00 c0 00 02 01 e0 00 00 12",
       decode_error::bad_ip_header_length},
      {"total length below the header", "45 c0 00 13 00 01 00 00 ff 70 00 00 c0 00 02 01 e0 00 00 12",
       decode_error::bad_ip_total_length},
      {"total length past the end", "45 c0 00 15 00 01 00 00 ff 70 00 00 c0 00 02 01 e0 00 00 12",
       decode_error::bad_ip_total_length},
      {"more fragments", "45 c0 00 14 00 01 20 00 ff 70 00 00 c0 00 02 01 e0 00 00 12", decode_error::ip_fragment},
      {"fragment offset", "45 c0 00 14 00 01 00 01 ff 70 00 00 c0 00 02 01 e0 00 00 12",
       decode_error::ip_fragment},
      {"UDP", "45 c0 00 14 00 01 00 00 ff 11 00 00 c0 00 02 01 e0 00 00 12", decode_error::not_vrrp},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      CHECK(to_string(parse_ipv4_packet(from_hex(c.hex)).error) == std::string(to_string(c.expected)));
    }
  }
}

}  // namespace
}  // namespace cplb::vrrp
