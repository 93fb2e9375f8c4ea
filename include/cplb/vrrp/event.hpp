#pragma once
#include <cstdint>
#include <variant>

#include "cplb/vrrp/advert.hpp"

// What the shell tells the state machine.
namespace cplb::vrrp::events {

/// Start the instance (init -> backup, or fault when the interface is down).
struct start {};

/// Start as master with no election (init -> master, or fault when the interface is down): a
/// predecessor on this host (binary upgrade, or its rollback) was master and left the VIPs on the
/// interface, and the peers still hear it as master. A predecessor in any other state: use start.
struct resume_as_master {};

/// Stop the instance; a master sends priority 0 and hands over (see state_machine).
struct shutdown {};

/// The deadline of next_deadline() has come.
struct timer_expired {};

/// A decoded advert arrived (TTL and IP checks already done by the shell).
struct advert_received {
  advert message;  ///< with its sender set
};

/// The interface went up or down.
struct interface_changed {
  bool up = true;  ///< the new link state
};

/// The effective priority (config priority minus track penalty) changed; 1..254.
struct priority_changed {
  std::uint8_t effective = 0;  ///< see effective_priority()
};

/// The router of the other family of a dual-stack instance entered master (`master`) or left it:
/// this one follows, so both families' VIPs stay on one node (see coupled_routers).
struct sibling_changed {
  bool master = false;  ///< true: it became master; false: it stepped down
};

/// Instead of timer_expired, for a backup of a dual-stack instance whose master-down timer ran out
/// while the router of the other family still hears a master: wait another master-down interval
/// (keepalived's sync group likewise prefers backup to thrashing).
struct takeover_held {};

}  // namespace cplb::vrrp::events

namespace cplb::vrrp {

/// Any input of the state machine.
using event = std::variant<events::start, events::resume_as_master, events::shutdown,
                           events::timer_expired, events::advert_received, events::interface_changed,
                           events::priority_changed, events::sibling_changed, events::takeover_held>;

}  // namespace cplb::vrrp
