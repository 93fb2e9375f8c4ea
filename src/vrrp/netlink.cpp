#include "netlink.hpp"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "cplb/core/netlink_ack.hpp"

namespace cplb::vrrp::detail {
namespace {

constexpr unsigned max_copies = 16;  ///< bound on the copies of one address remove_address deletes

std::error_code last_error() {
  return {errno, std::system_category()};
}

/// A netlink socket closed when it goes out of scope.
class netlink_socket {
 public:
  netlink_socket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {}
  ~netlink_socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  netlink_socket(const netlink_socket&) = delete;
  netlink_socket& operator=(const netlink_socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

/// RTM_NEWADDR or RTM_DELADDR with IFA_LOCAL (and IFA_ADDRESS when adding).
struct address_request {
  nlmsghdr header;
  ifaddrmsg message;
  std::array<char, 2 * RTA_SPACE(sizeof(in6_addr))> attributes;
};

void put_address_attribute(address_request& r, unsigned short type, const ip_address& address) {
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&r) + NLMSG_ALIGN(r.header.nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(address.bytes().size()));
  std::memcpy(RTA_DATA(rta), address.bytes().data(), address.bytes().size());
  r.header.nlmsg_len = NLMSG_ALIGN(r.header.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/// Sends one request with NLM_F_ACK and returns the kernel's verdict.
std::error_code transact(address_request& request) {
  netlink_socket sock;
  if (sock.fd() < 0) return last_error();
  const timeval bound{1, 0};  // the kernel answers within the send; this only bounds a surprise
  ::setsockopt(sock.fd(), SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  request.header.nlmsg_seq = 1;
  if (::sendto(sock.fd(), &request, request.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    return last_error();
  alignas(nlmsghdr) std::array<std::uint8_t, 4096> reply{};
  const ssize_t n = ::recv(sock.fd(), reply.data(), reply.size(), 0);
  if (n < 0) return last_error();
  return netlink_ack(std::span(reply).first(static_cast<std::size_t>(n)));
}

address_request make_request(unsigned short type, unsigned short flags, unsigned ifindex, bool v6,
                             unsigned prefix_length) {
  address_request r{};
  r.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  r.header.nlmsg_type = type;
  r.header.nlmsg_flags = static_cast<unsigned short>(NLM_F_REQUEST | NLM_F_ACK | flags);
  r.message.ifa_family = v6 ? AF_INET6 : AF_INET;
  r.message.ifa_prefixlen = static_cast<unsigned char>(prefix_length);
  r.message.ifa_scope = RT_SCOPE_UNIVERSE;
  r.message.ifa_index = ifindex;
  return r;
}

}  // namespace

std::error_code add_address(unsigned ifindex, const ip_address& address, unsigned prefix_length) {
  auto request = make_request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, address.is_v6(), prefix_length);
  // No duplicate address detection: a tentative VIP cannot be used, and after a failover the old
  // master's copy (say a SIGKILLed one) would make it fail for good.
  if (address.is_v6()) request.message.ifa_flags = IFA_F_NODAD;
  put_address_attribute(request, IFA_LOCAL, address);
  put_address_attribute(request, IFA_ADDRESS, address);
  const auto ec = transact(request);
  return ec == std::errc::file_exists ? std::error_code{} : ec;
}

std::error_code remove_address(unsigned ifindex, const ip_address& address, unsigned prefix_length,
                               unsigned& removed) {
  // IPv4: without IFA_ADDRESS the kernel matches IFA_LOCAL alone, whatever the prefix length.
  // IPv6: the kernel matches the address and the prefix length.
  removed = 0;
  for (; removed < max_copies; ++removed) {
    auto request = make_request(RTM_DELADDR, 0, ifindex, address.is_v6(), address.is_v6() ? prefix_length : 0);
    put_address_attribute(request, IFA_LOCAL, address);
    const auto ec = transact(request);
    if (ec == std::errc::address_not_available) return {};
    if (ec) return ec;
  }
  return {};
}

int open_link_monitor() {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) throw std::system_error(last_error(), "netlink socket");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_LINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    const auto ec = last_error();
    ::close(fd);
    throw std::system_error(ec, "netlink bind to RTMGRP_LINK");
  }
  return fd;
}

std::optional<bool> link_state_in(std::span<const std::uint8_t> messages, unsigned ifindex) {
  std::optional<bool> state;
  auto remaining = static_cast<long>(messages.size());  // long: NLMSG_OK compares it with a __u32
  // Netlink batches are aligned by the kernel; the caller's buffer is aligned for nlmsghdr.
  for (auto* h = reinterpret_cast<const nlmsghdr*>(messages.data()); NLMSG_OK(h, remaining);
       h = NLMSG_NEXT(h, remaining)) {
    if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) continue;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) continue;
    const auto* link = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
    if (link->ifi_index < 0 || static_cast<unsigned>(link->ifi_index) != ifindex) continue;
    const bool up = (link->ifi_flags & IFF_UP) && (link->ifi_flags & IFF_RUNNING);
    state = h->nlmsg_type == RTM_NEWLINK && up;
  }
  return state;
}

}  // namespace cplb::vrrp::detail
