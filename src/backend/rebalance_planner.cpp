#include "cplb/backend/rebalance_planner.hpp"

#include <cmath>

namespace cplb::backend {

std::vector<std::int64_t> rebalance_surplus(std::span<const rebalance_server> servers, double threshold) {
  std::vector<std::int64_t> surplus(servers.size(), 0);
  if (threshold <= 0) return surplus;
  std::int64_t sessions = 0;
  std::int64_t weights = 0;
  std::size_t up = 0;
  for (const auto& s : servers) {
    if (!s.up) continue;
    sessions += s.sessions;
    weights += s.weight;
    ++up;
  }
  if (up < 2 || weights <= 0) return surplus;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    const auto& s = servers[i];
    if (!s.settled) continue;
    const double share = static_cast<double>(sessions) * static_cast<double>(s.weight) / static_cast<double>(weights);
    if (static_cast<double>(s.sessions) > threshold * share)
      surplus[i] = s.sessions - static_cast<std::int64_t>(std::ceil(share));
  }
  return surplus;
}

std::int64_t rebalance_episode::take_due(time_point now) {
  const auto elapsed = now - start_;
  std::int64_t due_total = total_;
  if (elapsed < spread_) {
    const double part = static_cast<double>(elapsed.count()) / static_cast<double>(spread_.count());
    due_total = static_cast<std::int64_t>(std::ceil(part * static_cast<double>(total_)));
  }
  const std::int64_t due = due_total > issued_ ? due_total - issued_ : 0;
  issued_ += due;
  return due;
}

}  // namespace cplb::backend
