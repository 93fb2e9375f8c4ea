#pragma once
#include <functional>
#include <memory>
#include <string>

#include "cplb/backend/backend.hpp"
#include "cplb/backend/server.hpp"
#include "cplb/health/probe_result.hpp"

namespace boost::asio {
class io_context;
}

namespace cplb::health {

/// What the checker tells the rest of the daemon. Callbacks run on the control thread; either may
/// be empty.
struct checker_listener {
  /// A server changed state; the server already holds the new state and reason, and the
  /// transition is logged.
  std::function<void(const backend::backend&, const backend::server_ptr&, backend::server_state from,
                     backend::server_state to)>
      on_transition;
  /// A probe finished (after on_transition when it caused one).
  std::function<void(const backend::backend&, backend::server&, const probe_result&)> on_probe;
};

/// Health checks every server of the applied backend set on the control thread's io_context:
/// one probe at a time per server, the first at once, the next a jittered interval (±10%) after
/// the previous one ended. Writes each server's state, reason and reachability.
class checker {
 public:
  /// A checker with nothing to check yet.
  checker(boost::asio::io_context& io, checker_listener listener);
  /// Stops every probe.
  ~checker();
  checker(const checker&) = delete;
  checker& operator=(const checker&) = delete;

  /// Checks the servers of `set`: new servers are probed at once; servers carried over (the same
  /// server object) keep their state and schedule and use their backend's new settings from the
  /// next probe; servers no longer in `set` stop (their probe in flight is cancelled). Re-reads
  /// bearer token files and rebuilds TLS contexts. Throws std::runtime_error, changing nothing,
  /// when a backend's token, CA, certificate or key cannot be loaded.
  void apply(std::shared_ptr<const backend::backend_set> set);

  /// Passive detection: a data-path connect to `server` failed. It counts as one failed check
  /// (toward `fall`; a refusal takes the server down at once) and marks the server unreachable.
  /// `detail` says how it failed.
  void report_connect_failure(const backend::server_ptr& server,
                              backend::down_reason reason = backend::down_reason::connect_failed,
                              const std::string& detail = "connect failed");

  /// Cancels every probe and timer, so io_context::run returns once nothing else is pending.
  void stop();

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cplb::health
