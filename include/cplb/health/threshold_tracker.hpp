#pragma once
#include <cstdint>
#include <optional>

#include "cplb/backend/server.hpp"

namespace cplb::health {

/// What one check found.
enum class outcome : std::uint8_t {
  passed,     ///< the expected answer
  not_ready,  ///< the server's HTTP answered, with an unexpected status: alive, not serving
  failed,     ///< refused, timed out, TLS failed, not HTTP, or a data-path connect failed
};

/// Turns a stream of check outcomes into state transitions (pure: no I/O, no time).
///
/// - `unchecked`: the first outcome decides at once (up, not_ready or down), so a server takes
///   traffic only after a pass, and why it does not is known from its first check.
/// - `up`: `fall` consecutive failures of either kind take it out: to `not_ready` when the last
///   one was not_ready, else to `down`.
/// - `not_ready` and `down`: `rise` consecutive passes make it `up`. A failure while not_ready
///   means the server stopped answering: `down` at once. A not_ready answer while down means it
///   answers again, though not ready: `not_ready` at once. Neither changes whether it is sent
///   sessions; both change how its sessions are drained.
class threshold_tracker {
 public:
  /// A tracker in state `unchecked`; thresholds below 1 count as 1.
  threshold_tracker(unsigned rise, unsigned fall);

  /// Records one outcome; returns the new state when it changed. A `conclusive` failure (the
  /// data path found nothing listening) takes an up server down at once instead of counting
  /// toward `fall`, so the next client is not sent to a server that just refused.
  std::optional<backend::server_state> record(outcome o, bool conclusive = false);

  /// True when `o` says something else than the state does (a pass while not up, a failure
  /// while up): the checker then confirms it sooner (fast_interval).
  bool disagrees(outcome o) const;

  /// Changes the thresholds (on reload); the counts so far are kept and compared to the new
  /// thresholds at the next outcome.
  void set_thresholds(unsigned rise, unsigned fall);

  /// The current state.
  backend::server_state state() const { return state_; }
  /// The counts in progress (binary upgrade).
  unsigned passes() const { return passes_; }
  unsigned failures() const { return failures_; }
  /// Resumes from another process's state and counts (binary upgrade).
  void resume(backend::server_state s, unsigned passes, unsigned failures) {
    state_ = s;
    passes_ = passes;
    failures_ = failures;
  }

 private:
  std::optional<backend::server_state> enter(backend::server_state s);

  unsigned rise_;
  unsigned fall_;
  unsigned passes_ = 0;    ///< consecutive passes while not up
  unsigned failures_ = 0;  ///< consecutive failures while up
  backend::server_state state_ = backend::server_state::unchecked;
};

}  // namespace cplb::health
