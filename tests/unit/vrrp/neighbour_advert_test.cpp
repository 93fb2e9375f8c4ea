#include <catch2/catch.hpp>

#include "cplb/vrrp/neighbour_advert.hpp"
#include "test_util.hpp"

// The expected frame is hand-built from RFC 4861 4.4 and RFC 8200 8.1 by a Python one-off with its
// own RFC 1071 checksum (struct.pack type 136, flags 0x20000000, the target, option 2 with the MAC;
// summed with the pseudo-header fe80::1, ff02::1, length 32, next header 58): 0xa924.
namespace cplb::vrrp {
namespace {

TEST_CASE("neighbour_advert_frame is an unsolicited NA with override, to all nodes", "[vrrp][ndisc]") {
  const mac_address mac{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30};
  const auto frame = neighbour_advert_frame(mac, test::ip6("fe80::1"), test::ip6("2001:db8::100"));
  CHECK(test::to_hex(frame) ==
        test::to_hex(test::from_hex(
            "33 33 00 00 00 01  02 00 5e 10 20 30  86 dd"         // all-nodes MAC, ours, IPv6
            "60 00 00 00  00 20 3a ff"                            // version 6, length 32, ICMPv6, hop limit 255
            "fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01"     // source: our link-local address
            "ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 01"     // destination: all nodes
            "88 00 a9 24  20 00 00 00"                            // NA, code 0, checksum; O set, R and S clear
            "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 01 00"     // target: the VIP
            "02 01 02 00 5e 10 20 30")));                         // target link-layer address: our MAC
}

TEST_CASE("the NA checksum changes with the target", "[vrrp][ndisc]") {
  const mac_address mac{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30};
  const auto a = neighbour_advert_frame(mac, test::ip6("fe80::1"), test::ip6("2001:db8::100"));
  const auto b = neighbour_advert_frame(mac, test::ip6("fe80::1"), test::ip6("2001:db8::101"));
  CHECK((a[56] != b[56] || a[57] != b[57]));
}

}  // namespace
}  // namespace cplb::vrrp
