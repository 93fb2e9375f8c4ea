#pragma once
#include <optional>

#include "cplb/backend/server.hpp"

namespace cplb::health {

/// Turns a stream of check outcomes into up/down transitions (pure: no I/O, no time).
///
/// - `unchecked`: the first outcome decides at once: a pass makes the server `up`, a failure
///   makes it `down` (so a server takes traffic only after a pass, and why it does not is known
///   from its first check).
/// - `down`: `rise` consecutive passes make it `up`.
/// - `up`: `fall` consecutive failures make it `down`.
class threshold_tracker {
 public:
  /// A tracker in state `unchecked`; thresholds below 1 count as 1.
  threshold_tracker(unsigned rise, unsigned fall);

  /// Records one outcome; returns the new state when it changed. A `conclusive` failure (the
  /// data path found nothing listening) takes an up server down at once instead of counting
  /// toward `fall`, so the next client is not sent to a server that just refused.
  std::optional<backend::server_state> record(bool passed, bool conclusive = false);

  /// Changes the thresholds (on reload); the counts so far are kept and compared to the new
  /// thresholds at the next outcome.
  void set_thresholds(unsigned rise, unsigned fall);

  /// The current state.
  backend::server_state state() const { return state_; }

 private:
  unsigned rise_;
  unsigned fall_;
  unsigned passes_ = 0;    ///< consecutive passes while down
  unsigned failures_ = 0;  ///< consecutive failures while up
  backend::server_state state_ = backend::server_state::unchecked;
};

}  // namespace cplb::health
