#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "cplb/core/clock.hpp"
#include "cplb/vrrp/action.hpp"
#include "cplb/vrrp/event.hpp"
#include "cplb/vrrp/settings.hpp"
#include "cplb/vrrp/state.hpp"

namespace cplb::vrrp {

/// What one event did: the state before and after, why, and what the shell must do.
struct step {
  state from = state::init;     ///< the state before the event
  state to = state::init;       ///< the state after the event
  cause why = cause::startup;   ///< for the log line
  std::vector<action> actions;  ///< perform in order
  /// True when the state changed (count it in vrrp_transitions_total).
  bool changed() const { return from != to; }
};

/// One VRRP instance per RFC 5798 section 6.4 (also for v2), with no I/O and no clock of its own:
/// the shell feeds events with the current time, performs the returned actions, and calls
/// handle(timer_expired) when next_deadline() comes.
///
/// cplb additions to the RFC:
/// - a master hearing a lower-priority advert (a healed split brain) reasserts itself at once
///   (advert + gratuitous ARP), at most once per advert interval; the first such advert after two
///   advert intervals without one is reported as cause::split_brain, unless it comes from the
///   master we just preempted;
/// - a master stepping down for a better one sends one last advert at its own priority, so that
///   the winner hears a lower-priority master and reasserts even when its advert was the first
///   to cross a healed link;
/// - shutdown as master sends priority 0 but keeps the VIPs (state init, holds_vips()) until
///   another master's advert is heard or the master-down interval passes, then removes them;
/// - resume_as_master (binary upgrade) enters master at once, with no election;
/// - sibling_changed (dual-stack) makes a backup master, or a master backup (with the last advert
///   of a stepping-down master), as the router of the other family just did.
class state_machine {
 public:
  /// The time type of every event.
  using time_point = cplb::clock::time_point;

  /// Throws std::invalid_argument when the settings are out of range (see validate()).
  explicit state_machine(settings s);

  /// Feeds one event at time `now` (monotonic, never going back).
  step handle(const event& e, time_point now);

  /// When the shell must send timer_expired; nullopt when no timer runs.
  std::optional<time_point> next_deadline() const { return deadline_; }

  /// The current state.
  state current() const { return state_; }
  /// The effective priority in use.
  std::uint8_t priority() const { return priority_; }
  /// True while the VIPs are ours: as master, and during the handover after shutdown.
  bool holds_vips() const { return holds_vips_; }
  /// The master's advert interval: learned from adverts with v3, the configured one with v2.
  std::chrono::microseconds master_advert_interval() const { return master_advert_interval_; }
  /// v3: ((256 - priority) * master_advert_interval) / 256; v2: (256 - priority) / 256 seconds.
  std::chrono::microseconds skew_time() const;
  /// 3 * master_advert_interval + skew_time.
  std::chrono::microseconds master_down_interval() const;

 private:
  step on(const events::start&, time_point now);
  step on(const events::resume_as_master&, time_point now);
  step on(const events::shutdown&, time_point now);
  step on(const events::timer_expired&, time_point now);
  step on(const events::advert_received& e, time_point now);
  step on(const events::interface_changed& e, time_point now);
  step on(const events::priority_changed& e, time_point now);
  step on(const events::sibling_changed& e, time_point now);
  step on(const events::takeover_held& e, time_point now);

  /// Why an advert must be dropped before the state looks at it; nullopt when it may be used.
  std::optional<cause> screen(const advert& a) const;
  step advert_as_backup(const advert& a, time_point now);
  step advert_as_master(const advert& a, time_point now);
  step advert_in_handover(const advert& a);
  /// Tells the shell to drop the virtual IPs, and remembers that they are gone.
  void release_vips(step& s);
  /// Sends an advert now and schedules the next one.
  void advertise(step& s, time_point now);
  /// Enters backup with a fresh master-down timer.
  void become_backup(time_point now);
  /// Enters master; returns the actions that go with it.
  std::vector<action> become_master(time_point now);
  /// Our advert at `prio`.
  send_advert advert_at(std::uint8_t prio) const;
  /// Learns the master's interval from an accepted v3 advert.
  void learn_interval(const advert& a);
  /// A step from the current state with no change yet.
  step begin(cause why) const { return step{state_, state_, why, {}}; }

  settings settings_;
  state state_ = state::init;
  std::uint8_t priority_;
  bool link_up_ = true;
  bool holds_vips_ = false;
  std::chrono::microseconds master_advert_interval_;
  std::optional<time_point> deadline_;
  cause down_cause_ = cause::master_down_timer;  ///< the cause the master-down timer will report
  std::optional<time_point> last_reassert_;
  std::optional<time_point> last_lower_master_;  ///< when a lower-priority master was last heard
  ip_address ignored_master_;  ///< the lower-priority master a preempting backup ignored
  /// The master we preempted, and since when: its adverts until it yields are no split brain.
  std::optional<std::pair<ip_address, time_point>> preempted_;
  std::optional<time_point> last_zero_reply_;  ///< when a priority-0 advert was last answered
};

}  // namespace cplb::vrrp
