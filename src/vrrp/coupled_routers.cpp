#include "cplb/vrrp/coupled_routers.hpp"

#include <stdexcept>
#include <variant>

namespace cplb::vrrp {
namespace {

std::vector<state_machine> machines(std::vector<settings> routers) {
  if (routers.empty() || routers.size() > 2) throw std::invalid_argument("one or two routers: IPv4, IPv6");
  if (routers.size() == 2 && routers[0].primary_ip.is_v6() == routers[1].primary_ip.is_v6())
    throw std::invalid_argument("the routers of an instance must be of different families");
  std::vector<state_machine> out;
  for (auto& s : routers) out.emplace_back(std::move(s));
  return out;
}

/// True when the step entered master or left it for backup: what the other routers follow.
/// Leaving for fault or init is not followed: the interface and shutdown reach every router.
bool moves_siblings(const step& s) {
  if (!s.changed() || s.why == cause::sibling) return false;
  return s.to == state::master || (s.from == state::master && s.to == state::backup);
}

}  // namespace

coupled_routers::coupled_routers(std::vector<settings> routers)
    : routers_(machines(std::move(routers))), ready_(routers_.size(), false) {}

std::vector<coupled_routers::router_step> coupled_routers::handle(std::optional<std::size_t> router,
                                                                  const event& e,
                                                                  state_machine::time_point now) {
  // A master is alive (or the router starts afresh): it no longer waits to take over.
  const bool fresh = std::holds_alternative<events::advert_received>(e) ||
                     std::holds_alternative<events::start>(e) || std::holds_alternative<events::resume_as_master>(e);
  std::vector<router_step> out;
  for (std::size_t i = 0; i < routers_.size(); ++i) {
    if (router && *router != i) continue;
    if (fresh) ready_[i] = false;
    feed(i, e, now, out);
  }
  return out;
}

std::vector<coupled_routers::router_step> coupled_routers::expire(state_machine::time_point now) {
  std::vector<router_step> out;
  for (std::size_t i = 0; i < routers_.size(); ++i) {
    const auto d = routers_[i].next_deadline();
    if (!d || *d > now) continue;
    if (must_wait(i, now)) {
      ready_[i] = true;
      out.push_back({i, routers_[i].handle(events::takeover_held{}, now)});
      continue;
    }
    feed(i, events::timer_expired{}, now, out);
  }
  return out;
}

bool coupled_routers::must_wait(std::size_t i, state_machine::time_point now) const {
  if (routers_[i].current() != state::backup) return false;
  for (std::size_t j = 0; j < routers_.size(); ++j) {
    if (j == i || routers_[j].current() != state::backup || ready_[j]) continue;
    const auto d = routers_[j].next_deadline();
    if (!d || *d > now) return true;
  }
  return false;
}

std::optional<state_machine::time_point> coupled_routers::next_deadline() const {
  std::optional<state_machine::time_point> earliest;
  for (const auto& r : routers_) {
    const auto d = r.next_deadline();
    if (d && (!earliest || *d < *earliest)) earliest = d;
  }
  return earliest;
}

bool coupled_routers::holds_vips() const {
  for (const auto& r : routers_)
    if (r.holds_vips()) return true;
  return false;
}

void coupled_routers::feed(std::size_t i, const event& e, state_machine::time_point now,
                           std::vector<router_step>& out) {
  out.push_back({i, routers_[i].handle(e, now)});
  if (!moves_siblings(out.back().what)) return;
  const events::sibling_changed follow{out.back().what.to == state::master};
  // A follower's step has cause sibling, so it moves nobody in turn.
  for (std::size_t j = 0; j < routers_.size(); ++j)
    if (j != i) out.push_back({j, routers_[j].handle(follow, now)});
}

}  // namespace cplb::vrrp
