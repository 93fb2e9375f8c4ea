#pragma once
#include <array>

namespace cplb::vrrp {

/// The states of a VRRP instance (RFC 5798 6.4), as the vrrp_state metric labels them.
enum class state { init, backup, master, fault };

/// Every state, in declaration order (the metrics export each).
inline constexpr std::array<state, 4> all_states{state::init, state::backup, state::master,
                                                 state::fault};

/// The snake_case name of a state.
const char* to_string(state s);

/// Why the state machine did what it did in one step; logged as `cause=...`.
enum class cause {
  startup,                 ///< start: init -> backup (or fault when the link is down)
  inherited,               ///< resume_as_master: init -> master, taken over from a predecessor
  shutdown,                ///< stop: priority-0 advert; a second shutdown ends a handover at once
  master_down_timer,       ///< a backup heard no master for the master-down interval
  preempt,                 ///< a backup took over from a lower-priority master it ignored
  advert_timer,            ///< a master's periodic advert
  master_advert,           ///< a backup heard the master: master-down timer restarted
  higher_priority_advert,  ///< a master heard a better master and stepped down
  lower_priority_advert,   ///< a master reasserted itself; a preempting backup ignored it
  split_brain,             ///< a master heard another, lower-priority master it did not expect
  priority_zero_advert,    ///< the master left: backups wait the skew only, a master answers
  priority_change,         ///< the effective priority changed
  interface_down,          ///< the interface went down
  interface_up,            ///< the interface came back
  sibling,                 ///< the router of the other family changed state: this one followed
  held_by_sibling,         ///< a backup's timer ran out, but the other family still hears a master
  handover_done,           ///< after shutdown, another master was heard: VIPs released
  handover_timeout,        ///< after shutdown, nobody took over within the down interval
  not_running,             ///< ignored: the instance is in init or fault
  already_running,         ///< ignored: start while running
  timer_not_due,           ///< ignored: a timer event before the deadline
  own_advert,              ///< ignored: our own advert came back
  wrong_version,           ///< ignored: another VRRP version than ours
  wrong_vrid,              ///< ignored: another virtual router
  interval_mismatch,       ///< ignored: v2 advert interval differs from ours (RFC 3768 7.1)
  address_mismatch,        ///< ignored: non-owner advert with other VIPs (RFC 5798 7.1)
};

/// The snake_case name of a cause.
const char* to_string(cause c);

}  // namespace cplb::vrrp
