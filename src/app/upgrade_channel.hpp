#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace cplb::app {

/// What an upgrade message says (see docs/design.md, "Binary upgrade").
enum class upgrade_message : std::uint32_t {
  hello = 1,     ///< new -> old: started, config loaded
  state = 2,     ///< old -> new: listening sockets, health, counters
  ready = 3,     ///< new -> old: serving on the listening sockets, ready for the sessions
  refused = 4,   ///< new -> old: cannot take over, and why
  sessions = 5,  ///< old -> new: a batch of sessions
  done = 6,      ///< old -> new: no more sessions; VRRP state
  confirm = 7,   ///< new -> old: everything taken over
};

/// One message received, owning the descriptors it carried until they are taken.
struct upgrade_frame {
  upgrade_message type{};
  std::string payload;
  std::vector<int> fds;

  upgrade_frame() = default;
  upgrade_frame(upgrade_frame&& other) noexcept;
  upgrade_frame& operator=(upgrade_frame&& other) noexcept;
  ~upgrade_frame();
};

/// Framed messages with descriptors (SCM_RIGHTS) over a connected Unix stream socket, between an
/// old and a new cplb process. Blocking, with a deadline per call: each side only waits for the
/// other's next step.
class upgrade_channel {
 public:
  /// At most this many descriptors ride with one message (the kernel allows 253).
  static constexpr std::size_t max_fds = 240;

  /// Takes ownership of `fd`.
  explicit upgrade_channel(int fd);
  ~upgrade_channel();
  upgrade_channel(const upgrade_channel&) = delete;
  upgrade_channel& operator=(const upgrade_channel&) = delete;

  int fd() const { return fd_; }

  /// Sends one message; false with `error` when the other side is gone or stalls past `timeout`.
  bool send(upgrade_message type, const std::string& payload, const std::vector<int>& fds,
            std::chrono::milliseconds timeout, std::string& error);
  /// Receives one message; false with `error` on end of stream, a malformed frame, descriptors
  /// lost in transit (MSG_CTRUNC) or no message within `timeout`.
  bool receive(upgrade_frame& out, std::chrono::milliseconds timeout, std::string& error);

 private:
  /// Waits until the socket is ready for `events` (POLLIN or POLLOUT) or the deadline passes.
  bool wait(short events, std::chrono::steady_clock::time_point deadline, std::string& error);

  int fd_;
};

}  // namespace cplb::app
