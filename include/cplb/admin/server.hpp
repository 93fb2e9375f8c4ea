#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "cplb/admin/health.hpp"
#include "cplb/core/socket_address.hpp"

namespace boost::asio {
class io_context;
}

namespace cplb::admin {

class acceptor;

/// A new admin address made ready by server::prepare_rebind: its socket bound and listening, not
/// yet accepted from. Released unless committed.
class prepared_rebind {
 public:
  prepared_rebind() = default;

 private:
  friend class server;
  socket_address address_;
  std::shared_ptr<acceptor> socket_;  ///< null: unchanged, or bound only at commit (see there)
  bool bind_at_commit_ = false;
};

/// Where the admin endpoints get their answers; each runs on the control thread per request.
struct handlers {
  std::function<std::string()> metrics;     ///< GET /metrics: the Prometheus text
  std::function<health_verdict()> healthz;  ///< GET /healthz
  std::function<health_verdict()> livez;    ///< GET /livez: the event loops turn (not the backends)
  std::function<std::string()> status;      ///< GET /status: the JSON document
};

/// Bounds on what one client may cost.
struct limits {
  std::size_t header_limit = 8 * 1024;          ///< request line and headers, in bytes (431 over)
  std::chrono::milliseconds io_timeout{10'000};  ///< to read a request, and to write a response
  std::size_t max_connections = 16;             ///< connections over it are closed at once
                                                ///< (Prometheus and a few operators)
};

/// The admin HTTP/1.1 server (GET and HEAD on /metrics, /healthz, /livez, /status; keep-alive;
/// no request bodies) on the control thread's io_context.
class server {
 public:
  /// A server for `listen`; nothing is bound until start().
  server(boost::asio::io_context& io, const socket_address& listen, handlers h, limits l = {});
  /// Stops it.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts accepting; throws std::runtime_error naming the address when it cannot.
  void start();
  /// Stops accepting and closes every connection.
  void stop();
  /// Binds `listen` for a reload, touching nothing live: false with `error` set when it cannot be
  /// bound. The same port on another IP of a wildcard already bound (or the reverse) overlaps the
  /// running socket: that one can only be bound at commit, after the old one is let go.
  bool prepare_rebind(const socket_address& listen, prepared_rebind& out, std::string& error) const;
  /// Moves to the prepared address, keeping open connections. A bind left for commit that then
  /// fails takes the old address back and logs both errors.
  void commit_rebind(prepared_rebind prepared) noexcept;
  /// Binary upgrade: a copy of the listening socket (the caller owns it), or -1 when stopped.
  int listening_fd() const;
  /// Before the first bind (the next process): `fd` listens on `address`, handed over by the
  /// previous process; the first bind of that address uses it, so no request is refused.
  void inherit_listener(const socket_address& address, int fd);

  /// The address bound (its real port when started on port 0).
  socket_address local_address() const;
  /// Client connections open now.
  std::size_t open_connections() const;

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cplb::admin
