#pragma once
#include <atomic>
#include <chrono>

namespace cplb::proxy {

/// Proof that a worker's event loop turns, for /livez. The control thread posts the worker a
/// no-op now and then, which marks itself run; a no-op left waiting has found the loop stuck
/// (a loop under load still runs posted work every turn). At most one is in flight, so a stuck
/// worker's queue does not grow, and the wait counts from the oldest post not yet run.
class heartbeat {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  /// Control thread: whether to post a no-op now (none is in flight); if so it counts as posted
  /// at `now`, and the no-op must call ran().
  bool should_post(time_point now) {
    if (in_flight_.load(std::memory_order_relaxed)) return false;
    posted_at_ = now;
    in_flight_.store(true, std::memory_order_relaxed);
    return true;
  }
  /// Worker thread: the no-op ran.
  void ran() { in_flight_.store(false, std::memory_order_relaxed); }
  /// Control thread: how long the no-op in flight has waited at `now`; zero when none is.
  duration waiting(time_point now) const {
    return in_flight_.load(std::memory_order_relaxed) ? now - posted_at_ : duration::zero();
  }

 private:
  time_point posted_at_;  ///< control thread only
  std::atomic<bool> in_flight_{false};
};

}  // namespace cplb::proxy
