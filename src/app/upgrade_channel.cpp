#include "upgrade_channel.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace cplb::app {

namespace {

using steady = std::chrono::steady_clock;

constexpr std::uint32_t frame_magic = 0x43504c42;  // "CPLB"
/// Far above a batch of sessions with full backlogs; a bound against a corrupt length.
constexpr std::uint32_t max_payload = 512u << 20;

struct frame_header {
  std::uint32_t magic;
  std::uint32_t type;
  std::uint32_t payload_size;
  std::uint32_t fd_count;
};

void close_all(std::vector<int>& fds) {
  for (int fd : fds)
    if (fd >= 0) ::close(fd);
  fds.clear();
}

}  // namespace

upgrade_frame::upgrade_frame(upgrade_frame&& other) noexcept
    : type(other.type), payload(std::move(other.payload)), fds(std::exchange(other.fds, {})) {}

upgrade_frame& upgrade_frame::operator=(upgrade_frame&& other) noexcept {
  if (this != &other) {
    close_all(fds);
    type = other.type;
    payload = std::move(other.payload);
    fds = std::exchange(other.fds, {});
  }
  return *this;
}

upgrade_frame::~upgrade_frame() { close_all(fds); }

upgrade_channel::upgrade_channel(int fd) : fd_(fd) {}

upgrade_channel::~upgrade_channel() {
  if (fd_ >= 0) ::close(fd_);
}

bool upgrade_channel::wait(short events, steady::time_point deadline, std::string& error) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0) {
      error = "timed out";
      return false;
    }
    pollfd p{fd_, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) {
      error = std::string("poll: ") + std::strerror(errno);
      return false;
    }
  }
}

bool upgrade_channel::send(upgrade_message type, const std::string& payload, const std::vector<int>& fds,
                           std::chrono::milliseconds timeout, std::string& error) {
  const auto deadline = steady::now() + timeout;
  const frame_header header{frame_magic, static_cast<std::uint32_t>(type),
                            static_cast<std::uint32_t>(payload.size()), static_cast<std::uint32_t>(fds.size())};
  std::string frame(reinterpret_cast<const char*>(&header), sizeof header);
  frame += payload;
  std::vector<char> control;
  if (!fds.empty()) control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
  for (std::size_t sent = 0; sent < frame.size();) {
    iovec iov{frame.data() + sent, frame.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // The descriptors ride with the first byte; the receiver reads the header alone first.
    if (sent == 0 && !fds.empty()) {
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    const auto n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!wait(POLLOUT, deadline, error)) return false;
      continue;
    }
    error = std::string("send: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool upgrade_channel::receive(upgrade_frame& out, std::chrono::milliseconds timeout, std::string& error) {
  const auto deadline = steady::now() + timeout;
  out = upgrade_frame{};
  frame_header header{};
  std::size_t have = 0;
  while (have < sizeof header) {
    if (!wait(POLLIN, deadline, error)) return false;
    iovec iov{reinterpret_cast<char*>(&header) + have, sizeof header - have};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const auto n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      error = std::string("receive: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) {
      error = "the other process closed the channel";
      return false;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const auto* data = reinterpret_cast<const int*>(CMSG_DATA(c));
      out.fds.insert(out.fds.end(), data, data + count);
    }
    if (msg.msg_flags & MSG_CTRUNC) {
      error = "descriptors were lost in transit (MSG_CTRUNC: the receiver's limit on open files?)";
      return false;
    }
    have += static_cast<std::size_t>(n);
  }
  if (header.magic != frame_magic || header.payload_size > max_payload || header.fd_count != out.fds.size()) {
    error = "malformed message from the other process";
    return false;
  }
  out.type = static_cast<upgrade_message>(header.type);
  out.payload.resize(header.payload_size);
  for (std::size_t got = 0; got < out.payload.size();) {
    if (!wait(POLLIN, deadline, error)) return false;
    const auto n = ::recv(fd_, out.payload.data() + got, out.payload.size() - got, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      error = n == 0 ? "the other process closed the channel" : std::string("receive: ") + std::strerror(errno);
      return false;
    }
    got += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace cplb::app
