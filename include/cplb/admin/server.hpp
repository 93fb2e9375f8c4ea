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

/// Where the admin endpoints get their answers; each runs on the control thread per request.
struct handlers {
  std::function<std::string()> metrics;     ///< GET /metrics: the Prometheus text
  std::function<health_verdict()> healthz;  ///< GET /healthz
  std::function<std::string()> status;      ///< GET /status: the JSON document
};

/// Bounds on what one client may cost.
struct limits {
  std::size_t header_limit = 8 * 1024;          ///< request line and headers, in bytes (431 over)
  std::chrono::milliseconds io_timeout{10'000};  ///< to read a request, and to write a response
  std::size_t max_connections = 64;             ///< connections over it are closed at once
};

/// The admin HTTP/1.1 server (GET and HEAD on /metrics, /healthz, /status; keep-alive; no request
/// bodies) on the control thread's io_context.
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
  /// Moves to `listen` (reload), keeping open connections: false with `error` set when the new
  /// address cannot be bound, in which case the old one keeps serving.
  bool rebind(const socket_address& listen, std::string& error);
  /// The address bound (its real port when started on port 0).
  socket_address local_address() const;
  /// Client connections open now.
  std::size_t open_connections() const;

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cplb::admin
