#include "netlink.hpp"

#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "cplb/core/netlink_ack.hpp"

namespace cplb::anycast::detail {
namespace {

/// A dump larger than this many bytes (a full routing table) is not ours to read to the end.
constexpr std::size_t max_dump_bytes = 64u << 20;

std::error_code last_error() { return {errno, std::system_category()}; }

/// A netlink socket closed when it goes out of scope.
class netlink_socket {
 public:
  netlink_socket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
    const timeval bound{1, 0};  // the kernel answers within the send; this only bounds a surprise
    if (fd_ >= 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  }
  ~netlink_socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  netlink_socket(const netlink_socket&) = delete;
  netlink_socket& operator=(const netlink_socket&) = delete;
  int fd() const { return fd_; }

  std::error_code send(std::span<const std::uint8_t> message) const {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_, message.data(), message.size(), 0, reinterpret_cast<const sockaddr*>(&kernel),
                 sizeof kernel) < 0)
      return last_error();
    return {};
  }

 private:
  int fd_;
};

}  // namespace

void request::init(std::uint16_t type, std::uint16_t flags, const void* body, std::size_t size) {
  auto* h = reinterpret_cast<nlmsghdr*>(buffer_.data());
  h->nlmsg_len = NLMSG_LENGTH(size);
  h->nlmsg_type = type;
  h->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
  h->nlmsg_seq = 1;
  std::memcpy(NLMSG_DATA(h), body, size);
}

void request::put(std::uint16_t type, const void* data, std::size_t size) {
  auto* h = reinterpret_cast<nlmsghdr*>(buffer_.data());
  const std::size_t at = NLMSG_ALIGN(h->nlmsg_len);
  if (at + RTA_SPACE(size) > buffer_.size()) throw std::logic_error("netlink request too large");
  auto* rta = reinterpret_cast<rtattr*>(buffer_.data() + at);
  rta->rta_type = type;
  rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(size));
  std::memcpy(RTA_DATA(rta), data, size);
  h->nlmsg_len = static_cast<std::uint32_t>(at + RTA_ALIGN(rta->rta_len));
}

void request::add_flags(std::uint16_t flags) {
  reinterpret_cast<nlmsghdr*>(buffer_.data())->nlmsg_flags |= flags;
}

std::span<const std::uint8_t> request::bytes() const {
  return std::span(buffer_).first(reinterpret_cast<const nlmsghdr*>(buffer_.data())->nlmsg_len);
}

std::error_code transact(request& r) {
  netlink_socket sock;
  if (sock.fd() < 0) return last_error();
  r.add_flags(NLM_F_ACK);
  if (const auto ec = sock.send(r.bytes())) return ec;
  alignas(nlmsghdr) std::array<std::uint8_t, 4096> reply{};
  const ssize_t n = ::recv(sock.fd(), reply.data(), reply.size(), 0);
  if (n < 0) return last_error();
  return netlink_ack(std::span(reply).first(static_cast<std::size_t>(n)));
}

std::error_code dump(request& r, const std::function<void(const nlmsghdr&)>& each) {
  netlink_socket sock;
  if (sock.fd() < 0) return last_error();
  // With strict checking (Linux 4.20+) the kernel applies the request's filters itself (a route
  // table, an interface) instead of sending everything; the caller filters again either way.
  const int strict = 1;
  ::setsockopt(sock.fd(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &strict, sizeof strict);
  r.add_flags(NLM_F_DUMP);
  if (const auto ec = sock.send(r.bytes())) return ec;
  // A dump comes in parts of up to a page or so each; 32 KiB holds the largest the kernel sends.
  std::vector<std::uint64_t> storage(32 * 1024 / sizeof(std::uint64_t));
  auto* buffer = reinterpret_cast<std::uint8_t*>(storage.data());
  for (std::size_t total = 0; total < max_dump_bytes;) {
    const ssize_t n = ::recv(sock.fd(), buffer, storage.size() * sizeof(std::uint64_t), 0);
    if (n < 0) return last_error();
    total += static_cast<std::size_t>(n);
    auto remaining = static_cast<long>(n);  // long: NLMSG_OK compares it with a __u32
    for (auto* m = reinterpret_cast<const nlmsghdr*>(buffer); NLMSG_OK(m, remaining); m = NLMSG_NEXT(m, remaining)) {
      if (m->nlmsg_type == NLMSG_DONE) return {};
      if (m->nlmsg_type == NLMSG_ERROR)
        return netlink_ack(std::span(reinterpret_cast<const std::uint8_t*>(m), m->nlmsg_len));
      each(*m);
    }
  }
  return std::make_error_code(std::errc::message_size);
}

void for_each_attribute(const void* first, std::size_t length,
                        const std::function<void(std::uint16_t, std::span<const std::uint8_t>)>& each) {
  auto remaining = static_cast<long>(length);
  for (auto* rta = static_cast<const rtattr*>(first); RTA_OK(rta, remaining); rta = RTA_NEXT(rta, remaining))
    each(rta->rta_type, std::span(static_cast<const std::uint8_t*>(RTA_DATA(rta)), RTA_PAYLOAD(rta)));
}

}  // namespace cplb::anycast::detail
