#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>

#include "cplb/proxy/runtime.hpp"

namespace cplb::proxy {

class worker;

/// One frontend's SO_REUSEPORT listening socket on one worker. Accepts in a loop until the
/// backlog is empty, turns away connections over max_connections at once, and pauses briefly
/// instead of spinning when the process runs out of descriptors.
class listener : public std::enable_shared_from_this<listener> {
 public:
  /// Takes ownership of the listening `fd` bound to `address`.
  listener(worker& owner, int fd, const socket_address& address);

  /// Serves `frontend` (which belongs to `rt`) from now on; called again on reload.
  void serve(std::shared_ptr<const runtime> rt, const frontend_runtime& frontend);
  /// Starts accepting.
  void start();
  /// Stops accepting and closes the socket; pending handlers end with operation_aborted.
  void close();

  /// The frontend's name.
  const std::string& name() const { return frontend_->config.name; }
  /// The address it listens on.
  const socket_address& address() const { return address_; }

 private:
  void wait();
  void on_readable(const boost::system::error_code& ec);
  void accept_one(int fd, const sockaddr_storage& peer, socklen_t peer_len);
  void pause();

  worker& owner_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer pause_timer_;
  socket_address address_;
  std::shared_ptr<const runtime> runtime_;
  const frontend_runtime* frontend_ = nullptr;
  bool paused_logged_ = false;
};

}  // namespace cplb::proxy
