#pragma once
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "cplb/generation/generation.hpp"
#include "event_loop.hpp"

namespace cplb::proxy {

class worker;

/// One frontend's SO_REUSEPORT listening socket on one worker. Accepts in a loop until the
/// backlog is empty, turns away connections over max_connections at once, and pauses briefly
/// instead of spinning when the process runs out of descriptors.
class acceptor final : public loop_target {
 public:
  /// Takes ownership of the listening `fd` bound to `address`.
  acceptor(worker& owner, int fd, const socket_address& address);
  acceptor(const acceptor&) = delete;
  acceptor& operator=(const acceptor&) = delete;
  /// Stops accepting and closes the descriptor.
  ~acceptor() override;

  /// Serves `frontend` (which belongs to `gen`) from now on; called again on reload.
  void serve(generation::snapshot_ptr gen, const generation::frontend& frontend);
  /// Starts accepting.
  void start();

  /// The frontend's name.
  const std::string& name() const { return frontend_->config.name; }
  /// The address it listens on (a reload keeps the acceptor of an unchanged address).
  const socket_address& address() const { return address_; }
  /// The listening socket (a reload re-applies changed session options to it).
  int fd() const { return fd_; }

  void on_ready(unsigned tag, std::uint32_t events) override;
  void on_resume() override;
  void on_deadline() override;

 private:
  /// Accepts until the backlog is empty, a batch is done, or descriptors run out.
  void accept_batch();
  void accept_one(int fd, const sockaddr_storage& peer, socklen_t peer_len);
  /// Turns the accepted `fd` away with a reset, counted in `counter`.
  void reject(int fd, std::atomic<std::uint64_t>& counter);
  void pause();

  worker& owner_;
  int fd_;
  loop_timer pause_timer_{*this};
  socket_address address_;
  generation::snapshot_ptr generation_;
  const generation::frontend* frontend_ = nullptr;
  bool paused_logged_ = false;
  bool resume_queued_ = false;
};

}  // namespace cplb::proxy
