#pragma once
#include <cstddef>
#include <optional>
#include <vector>

#include "cplb/vrrp/state_machine.hpp"

namespace cplb::vrrp {

/// The virtual routers of one instance: one per family of its VIPs (RFC 5798 runs IPv4 and IPv6
/// as separate routers, with the same VRID), kept in one state. When one enters master or leaves
/// it, the others are told at once (events::sibling_changed) and follow, so the IPv4 and IPv6 VIPs
/// move together, as keepalived's vrrp_sync_group does. A backup whose master-down timer runs out
/// takes over only when the other backups want to as well (their timers ran out too): while one
/// still hears a master, the first waits (events::takeover_held), so losing one family's adverts
/// between two nodes does not make the backup take both families over and back at every
/// interval. Pure, like state_machine.
class coupled_routers {
 public:
  /// One step of one router.
  struct router_step {
    std::size_t router = 0;  ///< index into the settings given to the constructor
    step what;
  };

  /// One router per settings (1 or 2, distinct families); throws std::invalid_argument otherwise.
  explicit coupled_routers(std::vector<settings> routers);

  /// Feeds `e` to router `router`, or to every router when nullopt, then couples: the steps in
  /// order, the followers' after the step that moved them.
  std::vector<router_step> handle(std::optional<std::size_t> router, const event& e,
                                  state_machine::time_point now);

  /// Feeds timer_expired to every router whose deadline has come (or takeover_held, see above),
  /// then couples.
  std::vector<router_step> expire(state_machine::time_point now);

  /// The earliest deadline of the routers; nullopt when no timer runs.
  std::optional<state_machine::time_point> next_deadline() const;

  /// Router `i`.
  const state_machine& router(std::size_t i) const { return routers_[i]; }
  /// How many routers.
  std::size_t size() const { return routers_.size(); }
  /// The instance's state: the first router's (they agree but for the moment of a change).
  state current() const { return routers_.front().current(); }
  /// True while any router holds its VIPs.
  bool holds_vips() const;
  /// The effective priority (the same for all).
  std::uint8_t priority() const { return routers_.front().priority(); }

 private:
  /// Feeds `e` to router `i` and appends its step, then the steps of the routers that follow it.
  void feed(std::size_t i, const event& e, state_machine::time_point now, std::vector<router_step>& out);
  /// True when router `i`, a backup whose timer ran out, must wait for a sibling backup that has
  /// neither timed out nor is due now.
  bool must_wait(std::size_t i, state_machine::time_point now) const;

  std::vector<state_machine> routers_;
  std::vector<bool> ready_;  ///< per router: held, its timer out; cleared by an advert or a start
};

}  // namespace cplb::vrrp
