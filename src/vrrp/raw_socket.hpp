#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>

#include "cplb/vrrp/advert.hpp"

// The kernel side of VRRP adverts: a raw IPPROTO_VRRP socket (IPv4 or IPv6) bound to one
// interface, and the raw AF_PACKET socket gratuitous ARP and neighbour advertisements go out on.
// Non-blocking: a send that would block fails.
namespace cplb::vrrp::detail {

/// How an advert socket is set up.
struct advert_socket_spec {
  std::string interface;  ///< SO_BINDTODEVICE
  unsigned ifindex = 0;   ///< multicast membership and outgoing interface
  bool multicast = true;  ///< join 224.0.0.18 or ff02::12 on the interface (false: unicast peers only)
  bool v6 = false;        ///< an AF_INET6 socket (the kernel strips the IPv6 header on receive)
};

/// Opens a non-blocking raw IPPROTO_VRRP socket: bound to the interface, TTL (hop limit) 255 for
/// unicast and multicast, multicast loop off, the group joined on the interface when `multicast`,
/// the packet info (and for IPv6 the hop limit) on receive. Throws std::system_error naming the
/// step that failed.
int open_advert_socket(const advert_socket_spec& spec);

/// One packet read from an advert socket.
struct received_packet {
  std::span<const std::uint8_t> bytes;  ///< IPv4: the IP packet, header included; IPv6: the message
  unsigned ifindex = 0;                 ///< where it arrived (packet info); 0 when not reported
  ip_address source;                    ///< IPv6: the sender
  ip_address destination;               ///< IPv6: ff02::12 or our address (IPV6_PKTINFO)
  int hop_limit = -1;                   ///< IPv6: IPV6_HOPLIMIT; -1 when not reported
};

/// Reads one packet into `buffer`; an error (would_block when none is waiting) or the packet.
std::error_code receive_packet(int fd, std::span<std::uint8_t> buffer, received_packet& out);

/// Sends `message` (a VRRP message without IP header) from `source` out of `ifindex` to
/// `destination`, both of the socket's family.
std::error_code send_packet(int fd, std::span<const std::uint8_t> message, unsigned ifindex,
                            const ip_address& source, const ip_address& destination);

/// Opens a non-blocking raw AF_PACKET socket for ARP and neighbour advertisement frames; throws
/// std::system_error.
int open_arp_socket();

/// A gratuitous ARP request for `address` from `mac` (an Ethernet frame, broadcast).
std::array<std::uint8_t, 42> gratuitous_arp_frame(const std::array<std::uint8_t, 6>& mac,
                                                  ipv4_address address);

/// Sends a whole Ethernet frame (its EtherType in bytes 12-13) out of `ifindex`.
std::error_code send_frame(int fd, unsigned ifindex, std::span<const std::uint8_t> frame);

}  // namespace cplb::vrrp::detail
