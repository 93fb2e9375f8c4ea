#pragma once
#include <functional>
#include <memory>
#include <string>

#include "cplb/core/socket_address.hpp"
#include "cplb/health/probe_result.hpp"
#include "cplb/health/probe_spec.hpp"

namespace boost::asio {
class io_context;
}

namespace cplb::health {

/// One probe in flight (tcp connect, or an HTTP(S) GET), all of it under the spec's timeout.
class probe {
 public:
  virtual ~probe() = default;
  /// Stops the probe at once: its socket is closed and its handler is never called.
  virtual void cancel() = 0;
};

/// Called once with the verdict, on the io_context's thread.
using probe_handler = std::function<void(const probe_result&)>;

/// Starts a probe of `address` (with `spec.port` when non-zero); `host` is the server's host as
/// written in the config (the default SNI, verified name and Host). `done` is called once, after
/// the connection is closed (HTTPS with a bounded TLS shutdown), unless cancel() came first.
std::shared_ptr<probe> start_probe(boost::asio::io_context& io,
                                   std::shared_ptr<const probe_spec> spec,
                                   const socket_address& address, const std::string& host,
                                   probe_handler done);

}  // namespace cplb::health
