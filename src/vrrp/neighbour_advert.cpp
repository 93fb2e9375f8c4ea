#include "cplb/vrrp/neighbour_advert.hpp"

#include <algorithm>
#include <cassert>

#include "checksum.hpp"

namespace cplb::vrrp {
namespace {

constexpr std::uint8_t next_header_icmpv6 = 58;
constexpr std::uint8_t icmpv6_neighbour_advert = 136;
constexpr std::uint8_t flag_override = 0x20;  ///< R 0x80, S 0x40, O 0x20
constexpr std::uint8_t option_target_link_layer = 2;
constexpr std::uint8_t hop_limit = 255;        ///< receivers drop neighbour discovery otherwise
constexpr std::size_t ethernet_header = 14;
constexpr std::size_t ipv6_header = 40;
constexpr std::size_t icmp_length = neighbour_advert_frame_size - ethernet_header - ipv6_header;

const ip_address all_nodes = ip_address::v6({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});

}  // namespace

std::array<std::uint8_t, neighbour_advert_frame_size> neighbour_advert_frame(const mac_address& mac,
                                                                            const ip_address& source,
                                                                            const ip_address& target) {
  assert(source.is_v6() && target.is_v6());
  std::array<std::uint8_t, neighbour_advert_frame_size> f{};
  auto* p = f.data();
  const std::array<std::uint8_t, 6> all_nodes_mac{0x33, 0x33, 0, 0, 0, 0x01};
  std::copy(all_nodes_mac.begin(), all_nodes_mac.end(), p);
  std::copy(mac.begin(), mac.end(), p + 6);
  p[12] = 0x86;  // EtherType IPv6
  p[13] = 0xdd;
  p += ethernet_header;
  p[0] = 0x60;  // version 6, traffic class and flow label 0
  p[4] = 0;
  p[5] = static_cast<std::uint8_t>(icmp_length);
  p[6] = next_header_icmpv6;
  p[7] = hop_limit;
  std::copy(source.bytes().begin(), source.bytes().end(), p + 8);
  std::copy(all_nodes.bytes().begin(), all_nodes.bytes().end(), p + 24);
  p += ipv6_header;
  p[0] = icmpv6_neighbour_advert;
  p[4] = flag_override;
  std::copy(target.bytes().begin(), target.bytes().end(), p + 8);
  p[24] = option_target_link_layer;
  p[25] = 1;  // in units of 8 bytes
  std::copy(mac.begin(), mac.end(), p + 26);
  // The IPv6 pseudo-header (RFC 8200 8.1), then the message with its checksum field zero.
  const std::array<std::uint8_t, 8> lengths{0, 0, 0, static_cast<std::uint8_t>(icmp_length), 0, 0, 0,
                                            next_header_icmpv6};
  std::uint64_t sum = detail::checksum_add(0, source.bytes());
  sum = detail::checksum_add(sum, all_nodes.bytes());
  sum = detail::checksum_add(sum, lengths);
  sum = detail::checksum_add(sum, std::span<const std::uint8_t>(p, icmp_length));
  const std::uint16_t checksum = detail::checksum_finish(sum);
  p[2] = static_cast<std::uint8_t>(checksum >> 8);
  p[3] = static_cast<std::uint8_t>(checksum);
  return f;
}

}  // namespace cplb::vrrp
