#include "cplb/backend/backend.hpp"

#include <cassert>

#include "bits.hpp"

namespace cplb::backend {

backend::backend(config::backend_config cfg, std::vector<server_ptr> servers)
    : config_(std::move(cfg)),
      servers_(std::move(servers)),
      picker_(make_picker(config_.balance, servers_, detail::hash_name(config_.name))) {
  assert(servers_.size() <= max_servers);
}

int backend::pick(server_mask eligible, std::uint64_t client_key) const {
  const std::lock_guard lock(pick_mutex_);
  const int i = picker_->pick(eligible, client_key);
  if (i >= 0) servers_[static_cast<std::size_t>(i)]->session_opened();
  return i;
}

const char* displayed_state(const backend& b, const server& s) {
  const bool drains = b.config().on_server_down == config::on_server_down_policy::drain;
  if (s.state() == server_state::down && drains && s.active_sessions() > 0) return "draining";
  return to_string(s.state());
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
