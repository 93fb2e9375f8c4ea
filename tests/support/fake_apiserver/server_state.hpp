#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "readiness.hpp"
#include "watch_registry.hpp"

namespace cplb::fake_apiserver {

/// The counters the control listener reports at /stats (data plane only).
struct stats {
  std::uint64_t connections = 0;  ///< accepted connections, total
  std::uint64_t requests = 0;     ///< HTTP requests read, total
  std::uint64_t active = 0;       ///< connections open now
  std::uint64_t watches = 0;      ///< watch streams open now
};

/// What every session of one fake apiserver shares; the server is single-threaded, so plain fields.
struct server_state {
  std::string name;                ///< reported by /version
  std::string required_token;      ///< bearer token /readyz and /healthz need; empty = none
  readiness mode = readiness::ok;  ///< how /readyz and /healthz answer now
  stats counters;                  ///< reported by /stats
  std::chrono::milliseconds watch_interval{200};  ///< between two events of a watch
  bool closing = false;            ///< shutting down: every response says Connection: close
  watch_registry watches;          ///< the open watches, ended by a graceful shutdown
};

/// Counts one open data-plane connection for as long as it lives; a default one counts nothing.
class connection_guard {
 public:
  /// Counts nothing (control connections).
  connection_guard() = default;
  /// Counts a new connection in `state`.
  explicit connection_guard(std::shared_ptr<server_state> state);
  /// Moves the count; the source counts nothing afterwards.
  connection_guard(connection_guard&& other) noexcept = default;
  connection_guard& operator=(connection_guard&&) = delete;
  /// Stops counting the connection as active.
  ~connection_guard();

 private:
  std::shared_ptr<server_state> state_;  ///< null when counting nothing
};

}  // namespace cplb::fake_apiserver
