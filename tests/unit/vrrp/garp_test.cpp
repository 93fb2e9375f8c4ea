#include <catch2/catch.hpp>

#include <array>
#include <cstdint>

#include "raw_socket.hpp"  // src/vrrp: the shell's frame builder

TEST_CASE("gratuitous_arp_frame is a broadcast ARP request for the VIP from our MAC") {
  const std::array<std::uint8_t, 6> mac{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30};
  const auto frame = cplb::vrrp::detail::gratuitous_arp_frame(mac, 0xc0000264);  // 192.0.2.100
  const std::array<std::uint8_t, 42> want{
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // Ethernet destination: broadcast
      0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,  // Ethernet source: our MAC
      0x08, 0x06,                          // EtherType ARP
      0x00, 0x01, 0x08, 0x00, 0x06, 0x04,  // Ethernet/IPv4, address sizes 6 and 4
      0x00, 0x01,                          // request
      0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,  // sender MAC
      0xc0, 0x00, 0x02, 0x64,              // sender IP: the VIP
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // target MAC
      0xc0, 0x00, 0x02, 0x64,              // target IP: the VIP again (gratuitous)
  };
  CHECK(frame == want);
}
