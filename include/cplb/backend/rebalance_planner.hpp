#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

namespace cplb::backend {

/// One server of a backend as the rebalance planner sees it.
struct rebalance_server {
  std::int64_t sessions = 0;  ///< open now
  std::int64_t weight = 0;    ///< current (slow-start) weight; counts only while `up`
  bool up = false;            ///< up: part of the fair share
  bool settled = false;       ///< up and out of slow start: its sessions may be closed
};

/// How many sessions each server holds beyond its weighted fair share, for the servers that hold
/// more than `threshold` x that share, and 0 for the others (pure). The fair share divides the
/// sessions of the up servers by their current weights. Nothing is closed while fewer than two
/// servers are up, nor from a server that is not settled (not_ready, down, in slow start).
std::vector<std::int64_t> rebalance_surplus(std::span<const rebalance_server> servers, double threshold);

/// Paces one episode of closes: `total` sessions evenly over `spread` from `start` (pure).
class rebalance_episode {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  rebalance_episode(time_point start, std::int64_t total, std::chrono::nanoseconds spread)
      : start_(start), total_(total), spread_(spread) {}

  /// How many more closes are due by `now`; counts them as issued.
  std::int64_t take_due(time_point now);
  /// `n` issued closes found no session to close (none was quiet): they are due again.
  void give_back(std::int64_t n) { issued_ -= std::min(n, issued_); }
  /// True once every close of the episode has been issued.
  bool done() const { return issued_ >= total_; }
  /// Sessions this episode set out to close.
  std::int64_t total() const { return total_; }

 private:
  time_point start_;
  std::int64_t total_;
  std::chrono::nanoseconds spread_;
  std::int64_t issued_ = 0;
};

}  // namespace cplb::backend
