#pragma once
#include <array>
#include <cstdint>

#include "cplb/vrrp/advert.hpp"

// The IPv6 counterpart of gratuitous ARP: an unsolicited neighbour advertisement (RFC 4861 4.4,
// 7.2.6) as a whole Ethernet frame, for a raw AF_PACKET socket. Pure: no sockets.
namespace cplb::vrrp {

/// An Ethernet address.
using mac_address = std::array<std::uint8_t, 6>;

/// The size of the frame: Ethernet 14, IPv6 40, NA 24, target link-layer address option 8.
inline constexpr std::size_t neighbour_advert_frame_size = 86;

/// An unsolicited NA for `target` (a VIP) from `source` (our link-local address) and `mac`, to
/// all nodes (ff02::1, 33:33:00:00:00:01), hop limit 255: override set (replace the cached MAC),
/// solicited and router clear, with the target link-layer address option. The ICMPv6 checksum
/// covers the IPv6 pseudo-header. Preconditions (asserted): both addresses IPv6.
std::array<std::uint8_t, neighbour_advert_frame_size> neighbour_advert_frame(const mac_address& mac,
                                                                            const ip_address& source,
                                                                            const ip_address& target);

}  // namespace cplb::vrrp
