#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cplb/config/config.hpp"
#include "cplb/core/per_worker.hpp"
#include "cplb/core/socket_address.hpp"

namespace cplb::backend {

/// Whether a server may take new sessions: only `up` ones do.
enum class server_state : std::uint8_t {
  unchecked,  ///< no check has passed yet
  up,         ///< the last `rise` checks passed
  not_ready,  ///< alive but not serving: its HTTP answered with an unexpected status
  down,       ///< refused, timed out, TLS failed, or a data-path connect failed
};

/// A server's weight as the pickers use it: its configured weight times its slow-start ramp,
/// in 1/ramp_full units of weight.
inline constexpr std::int64_t ramp_full = 1024;

/// Why a server is not up; `none` while it is.
enum class down_reason : std::uint8_t {
  none,
  not_checked,        ///< no check has run to completion yet
  refused,            ///< the TCP connect was refused
  timeout,            ///< a step of the check did not finish within `timeout`
  connect_failed,     ///< the TCP connect failed otherwise (unreachable, reset)
  tls_handshake,      ///< the TLS handshake failed (detail: OpenSSL's verify error)
  http_status,        ///< the status was not in expect_status (detail: the status)
  response_too_large, ///< the response exceeded the cap
  protocol_error,     ///< the response was not valid HTTP
};

/// `refused`, `timeout`, `tls_handshake`, ...
const char* to_string(down_reason r);
/// `unchecked`, `up`, `not_ready`, `down`
const char* to_string(server_state s);

/// Data-path counters of one server on one worker. Only that worker writes them, with a relaxed
/// load and store (no read-modify-write); readers sum the slots of all workers.
struct alignas(64) worker_counters {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> bytes_sent{0};      ///< towards the server
  std::atomic<std::uint64_t> bytes_received{0};  ///< from the server
  std::atomic<std::uint64_t> rebalanced{0};      ///< sessions closed to rebalance the backend
};

/// Totals of worker_counters over all workers.
struct counter_totals {
  std::uint64_t connections = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t rebalanced = 0;
};

/// One server of a backend and its live state. Health fields are written by the control thread
/// only; workers read them with relaxed loads. Survives reloads that keep its name and address.
class server {
 public:
  server(const config::server_config& cfg, unsigned worker_count);

  /// The server's name in the config.
  const std::string& name() const { return name_; }
  /// Where sessions connect.
  const socket_address& address() const { return address_; }
  /// The host as written in the config (SNI and Host default).
  const std::string& host() const { return host_; }
  /// Relative share of sessions, 1..256. Changed by reloads.
  unsigned weight() const { return weight_.load(std::memory_order_relaxed); }
  /// Sets the weight (control thread, when a reload commits).
  void set_weight(unsigned w) { weight_.store(w, std::memory_order_relaxed); }
  /// How far slow start has ramped the weight up: 0..ramp_full (full, outside slow start).
  std::int64_t ramp() const { return ramp_.load(std::memory_order_relaxed); }
  /// True while slow start holds the weight below full.
  bool ramping() const { return ramp() < ramp_full; }
  /// Sets the ramp (control thread, slow start).
  void set_ramp(std::int64_t r) { ramp_.store(r, std::memory_order_relaxed); }
  /// The weight the pickers use: weight x ramp, in 1/ramp_full units, at least 1.
  std::int64_t current_weight() const {
    const auto w = static_cast<std::int64_t>(weight()) * ramp();
    return w > 0 ? w : 1;
  }

  /// Current health state.
  server_state state() const { return state_.load(std::memory_order_relaxed); }
  /// True when the server takes new sessions.
  bool up() const { return state() == server_state::up; }
  /// True when the last attempt reached it over TCP (used when every server is down and the
  /// backend says `all_down: any_reachable`).
  bool reachable() const { return reachable_.load(std::memory_order_relaxed); }
  /// Why it is not up.
  down_reason reason() const { return reason_.load(std::memory_order_relaxed); }
  /// Human detail of the last failure (OpenSSL's text, the HTTP status). Control thread only.
  const std::string& reason_detail() const { return reason_detail_; }

  /// Records the outcome of health evaluation (control thread).
  void set_state(server_state s, down_reason r, std::string detail);
  /// Records whether the server accepts TCP connections (control thread).
  void set_reachable(bool r) { reachable_.store(r, std::memory_order_relaxed); }

  /// Sessions open to this server, over all workers.
  std::int64_t active_sessions() const { return active_.load(std::memory_order_relaxed); }
  /// A session to this server was picked (any worker): it counts from then on, so every worker
  /// sees a burst of new sessions spread.
  void session_opened() { active_.fetch_add(1, std::memory_order_relaxed); }
  /// A session to this server ended (any worker).
  void session_closed() { active_.fetch_sub(1, std::memory_order_relaxed); }

  /// The counters owned by worker `index`.
  worker_counters& counters(unsigned index) { return counters_[index]; }
  /// Sum over all workers.
  counter_totals totals() const;

 private:
  std::string name_;
  socket_address address_;
  std::string host_;
  std::atomic<unsigned> weight_;
  std::atomic<std::int64_t> ramp_{ramp_full};
  std::atomic<server_state> state_{server_state::unchecked};
  std::atomic<down_reason> reason_{down_reason::not_checked};
  std::atomic<bool> reachable_{false};
  std::string reason_detail_;
  std::atomic<std::int64_t> active_{0};
  per_worker<worker_counters> counters_;
};

using server_ptr = std::shared_ptr<server>;

}  // namespace cplb::backend
