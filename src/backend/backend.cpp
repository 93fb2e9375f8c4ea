#include "cplb/backend/backend.hpp"

#include <cassert>

namespace cplb::backend {

backend::backend(config::backend_config cfg, std::vector<server_ptr> servers)
    : config_(std::move(cfg)), servers_(std::move(servers)) {
  assert(servers_.size() <= max_servers);
}

server_mask backend::eligible(server_mask tried) const {
  server_mask up = 0;
  server_mask reachable = 0;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    const server_mask bit = server_mask{1} << i;
    if (servers_[i]->up()) up |= bit;
    if (servers_[i]->reachable()) reachable |= bit;
  }
  if (up != 0) return up & ~tried;
  if (config_.all_down == config::all_down_policy::any_reachable) return reachable & ~tried;
  return 0;
}

bool backend::all_down() const {
  for (const auto& s : servers_)
    if (s->up()) return false;
  return true;
}

}  // namespace cplb::backend
