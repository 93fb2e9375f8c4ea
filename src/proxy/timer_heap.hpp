#pragma once
#include <chrono>
#include <cstddef>
#include <limits>
#include <vector>

namespace cplb::proxy {

/// An entry of a timer_heap: a deadline that knows its own place in the heap, so that moving
/// or cancelling it costs O(log n) with no search and no tombstones left behind.
class heap_timer {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  heap_timer() = default;
  heap_timer(const heap_timer&) = delete;
  heap_timer& operator=(const heap_timer&) = delete;

  /// Whether the timer is in a heap.
  bool armed() const { return index_ != none; }
  /// When it is due (meaningful while armed).
  time_point expiry() const { return at_; }

 private:
  friend class timer_heap;
  static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
  time_point at_{};
  std::size_t index_ = none;
};

/// A binary min-heap of timers ordered by deadline. Pure: it holds pointers and calls nothing.
/// A timer must be cancelled (or popped) before it is destroyed.
class timer_heap {
 public:
  /// Arms `t` for `at`, or moves it there if armed already.
  void schedule(heap_timer& t, heap_timer::time_point at);
  /// Disarms `t`; nothing if it is not armed.
  void cancel(heap_timer& t);
  /// The earliest timer, or nullptr when empty.
  heap_timer* earliest() const { return heap_.empty() ? nullptr : heap_.front(); }
  /// Removes and returns the earliest timer if it is due at `now`; nullptr otherwise.
  heap_timer* pop_due(heap_timer::time_point now);

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }

 private:
  void place(std::size_t index, heap_timer* t);
  void sift_up(std::size_t index);
  void sift_down(std::size_t index);
  void remove_at(std::size_t index);

  std::vector<heap_timer*> heap_;
};

}  // namespace cplb::proxy
