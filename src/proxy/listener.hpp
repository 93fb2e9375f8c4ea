#pragma once
#include <sys/socket.h>

#include <memory>
#include <string>

#include "cplb/proxy/runtime.hpp"
#include "event_loop.hpp"

namespace cplb::proxy {

class worker;

/// One frontend's SO_REUSEPORT listening socket on one worker. Accepts in a loop until the
/// backlog is empty, turns away connections over max_connections at once, and pauses briefly
/// instead of spinning when the process runs out of descriptors.
class listener final : public loop_target {
 public:
  /// Takes ownership of the listening `fd` bound to `address`.
  listener(worker& owner, int fd, const socket_address& address);
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  /// Stops accepting and closes the descriptor.
  ~listener() override;

  /// Serves `frontend` (which belongs to `rt`) from now on; called again on reload.
  void serve(std::shared_ptr<const runtime> rt, const frontend_runtime& frontend);
  /// Starts accepting.
  void start();

  /// The frontend's name.
  const std::string& name() const { return frontend_->config.name; }
  /// The address it listens on.
  const socket_address& address() const { return address_; }

  void on_ready(unsigned tag, std::uint32_t events) override;
  void on_resume() override;
  void on_deadline() override;

 private:
  /// Accepts until the backlog is empty, a batch is done, or descriptors run out.
  void accept_batch();
  void accept_one(int fd, const sockaddr_storage& peer, socklen_t peer_len);
  void pause();

  worker& owner_;
  int fd_;
  loop_timer pause_timer_{*this};
  socket_address address_;
  std::shared_ptr<const runtime> runtime_;
  const frontend_runtime* frontend_ = nullptr;
  bool paused_logged_ = false;
  bool resume_queued_ = false;
};

}  // namespace cplb::proxy
