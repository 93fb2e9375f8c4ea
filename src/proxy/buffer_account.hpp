#pragma once
#include <atomic>
#include <cstdint>
#include <limits>

namespace cplb::proxy {

/// The bytes every session holds for a peer that has not taken them yet, against
/// `global.max_buffer_memory`. Any worker holds and releases (one atomic add per backlog, not
/// per byte); over the cap, sessions stop reading until their peers catch up.
class buffer_account {
 public:
  /// Changes the cap (start and reload).
  void set_cap(std::int64_t cap) { cap_.store(cap, std::memory_order_relaxed); }
  /// True while the sessions hold the cap or more: read nothing new.
  bool full() const { return held() >= cap_.load(std::memory_order_relaxed); }
  /// True while `n` more stay within the cap.
  bool can_hold(std::int64_t n) const { return held() + n <= cap_.load(std::memory_order_relaxed); }
  /// Bytes held now, over all sessions.
  std::int64_t held() const { return held_.load(std::memory_order_relaxed); }
  void hold(std::int64_t n) { held_.fetch_add(n, std::memory_order_relaxed); }
  void release(std::int64_t n) { held_.fetch_sub(n, std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> held_{0};
  std::atomic<std::int64_t> cap_{std::numeric_limits<std::int64_t>::max()};
};

}  // namespace cplb::proxy
