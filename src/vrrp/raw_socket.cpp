#include "raw_socket.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "cplb/vrrp/codec.hpp"

namespace cplb::vrrp::detail {
namespace {

std::error_code last_error() {
  return {errno, std::system_category()};
}

/// setsockopt that throws std::system_error naming the option, closing `fd` first.
template <typename T>
void set_option(int fd, int level, int name, const T& value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) == 0) return;
  const auto ec = last_error();
  ::close(fd);
  throw std::system_error(ec, what);
}

constexpr int ip_tos_internet_control = 0xc0;  ///< IPTOS_PREC_INTERNETCONTROL, as keepalived sends
constexpr int ttl = required_ttl;
constexpr std::uint16_t arp_hardware_ethernet = 1;
constexpr std::uint16_t arp_request = 1;

void put16(std::uint8_t* at, std::uint16_t v) {
  at[0] = static_cast<std::uint8_t>(v >> 8);
  at[1] = static_cast<std::uint8_t>(v);
}

void put32(std::uint8_t* at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

}  // namespace

namespace {

/// The IPv6 options of an advert socket (RFC 5798 5.1.2: hop limit 255 both ways).
void set_ipv6_options(int fd, const advert_socket_spec& spec) {
  set_option(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl, "IPV6_UNICAST_HOPS");
  set_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl, "IPV6_MULTICAST_HOPS");
  set_option(fd, IPPROTO_IPV6, IPV6_TCLASS, ip_tos_internet_control, "IPV6_TCLASS");
  set_option(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
  set_option(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT");
  set_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, "IPV6_MULTICAST_ALL");
  set_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP");
  set_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(spec.ifindex), "IPV6_MULTICAST_IF");
  if (!spec.multicast) return;
  ipv6_mreq group{};
  std::memcpy(&group.ipv6mr_multiaddr, multicast_group_v6.bytes().data(), sizeof group.ipv6mr_multiaddr);
  group.ipv6mr_interface = spec.ifindex;
  set_option(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, group, "IPV6_JOIN_GROUP ff02::12");
}

void set_ipv4_options(int fd, const advert_socket_spec& spec) {
  set_option(fd, IPPROTO_IP, IP_TTL, ttl, "IP_TTL");
  set_option(fd, IPPROTO_IP, IP_TOS, ip_tos_internet_control, "IP_TOS");
  set_option(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
  set_option(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL");
  set_option(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP");
  set_option(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl, "IP_MULTICAST_TTL");
  ip_mreqn group{};
  group.imr_multiaddr.s_addr = htonl(multicast_group.v4_value());
  group.imr_ifindex = static_cast<int>(spec.ifindex);
  set_option(fd, IPPROTO_IP, IP_MULTICAST_IF, group, "IP_MULTICAST_IF");
  if (spec.multicast) set_option(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, group, "IP_ADD_MEMBERSHIP 224.0.0.18");
}

}  // namespace

int open_advert_socket(const advert_socket_spec& spec) {
  const int fd = ::socket(spec.v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, ip_protocol);
  if (fd < 0) throw std::system_error(last_error(), "raw IPPROTO_VRRP socket");
  if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, spec.interface.c_str(),
                   static_cast<socklen_t>(spec.interface.size())) != 0) {
    const auto ec = last_error();
    ::close(fd);
    throw std::system_error(ec, "SO_BINDTODEVICE " + spec.interface);
  }
  if (spec.v6)
    set_ipv6_options(fd, spec);
  else
    set_ipv4_options(fd, spec);
  return fd;
}

std::error_code receive_packet(int fd, std::span<std::uint8_t> buffer, received_packet& out) {
  iovec io{buffer.data(), buffer.size()};
  sockaddr_in6 from{};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int))> control{};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &io;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return last_error();
  out = received_packet{};
  out.bytes = buffer.first(static_cast<std::size_t>(n));
  const auto v6 = [](const in6_addr& a) {
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), &a, bytes.size());
    return ip_address::v6(bytes);
  };
  if (from.sin6_family == AF_INET6) out.source = v6(from.sin6_addr);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      out.ifindex = static_cast<unsigned>(info.ipi_ifindex);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      out.ifindex = info.ipi6_ifindex;
      out.destination = v6(info.ipi6_addr);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
      std::memcpy(&out.hop_limit, CMSG_DATA(c), sizeof out.hop_limit);
    }
  }
  return {};
}

namespace {

/// sendmsg of `message` to `to` with one packet-info control message (`level`, `type`, `info`),
/// which picks the source address (the checksum covers it) and the interface.
template <class Address, class PacketInfo>
std::error_code send_with_packet_info(int fd, std::span<const std::uint8_t> message, Address& to, int level,
                                      int type, const PacketInfo& info) {
  iovec io{const_cast<std::uint8_t*>(message.data()), message.size()};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(PacketInfo))> control{};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &io;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(sizeof(PacketInfo));
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  if (::sendmsg(fd, &msg, MSG_DONTWAIT) < 0) return last_error();
  return {};
}

std::error_code send_ipv4(int fd, std::span<const std::uint8_t> message, unsigned ifindex, ipv4_address source,
                          ipv4_address destination) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(destination);
  in_pktinfo info{};
  info.ipi_ifindex = static_cast<int>(ifindex);
  info.ipi_spec_dst.s_addr = htonl(source);
  return send_with_packet_info(fd, message, to, IPPROTO_IP, IP_PKTINFO, info);
}

std::error_code send_ipv6(int fd, std::span<const std::uint8_t> message, unsigned ifindex, const ip_address& source,
                          const ip_address& destination) {
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  std::memcpy(&to.sin6_addr, destination.bytes().data(), sizeof to.sin6_addr);
  to.sin6_scope_id = ifindex;  // ff02::12 and link-local peers need it; others ignore it
  in6_pktinfo info{};
  info.ipi6_ifindex = ifindex;  // the source is the link-local address
  std::memcpy(&info.ipi6_addr, source.bytes().data(), sizeof info.ipi6_addr);
  return send_with_packet_info(fd, message, to, IPPROTO_IPV6, IPV6_PKTINFO, info);
}

}  // namespace

std::error_code send_packet(int fd, std::span<const std::uint8_t> message, unsigned ifindex,
                            const ip_address& source, const ip_address& destination) {
  if (destination.is_v6()) return send_ipv6(fd, message, ifindex, source, destination);
  return send_ipv4(fd, message, ifindex, source.v4_value(), destination.v4_value());
}

int open_arp_socket() {
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(last_error(), "AF_PACKET socket");
  return fd;
}

std::array<std::uint8_t, 42> gratuitous_arp_frame(const std::array<std::uint8_t, 6>& mac,
                                                  ipv4_address address) {
  std::array<std::uint8_t, 42> f{};
  std::uint8_t* p = f.data();
  std::memset(p, 0xff, 6);  // Ethernet destination: broadcast
  std::memcpy(p + 6, mac.data(), 6);
  put16(p + 12, ETHERTYPE_ARP);
  p += 14;
  put16(p, arp_hardware_ethernet);
  put16(p + 2, ETHERTYPE_IP);
  p[4] = 6;
  p[5] = 4;
  put16(p + 6, arp_request);
  std::memcpy(p + 8, mac.data(), 6);  // sender: us, the VIP
  put32(p + 14, address);
  std::memset(p + 18, 0xff, 6);  // target: the VIP again (sender == target makes it gratuitous)
  put32(p + 24, address);
  return f;
}

std::error_code send_frame(int fd, unsigned ifindex, std::span<const std::uint8_t> frame) {
  if (frame.size() < 14) return std::make_error_code(std::errc::invalid_argument);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(static_cast<std::uint16_t>(frame[12] << 8 | frame[13]));  // network order
  to.sll_ifindex = static_cast<int>(ifindex);
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, frame.data(), 6);
  if (::sendto(fd, frame.data(), frame.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    return last_error();
  return {};
}

}  // namespace cplb::vrrp::detail
