#include "cplb/vrrp/state_machine.hpp"

#include <algorithm>
#include <cassert>

namespace cplb::vrrp {
namespace {

constexpr std::uint8_t priority_leaving = 0;
constexpr std::uint8_t priority_owner = 255;

settings checked(settings s) {
  validate(s);
  return s;
}

}  // namespace

state_machine::state_machine(settings s)
    : settings_(checked(std::move(s))),
      priority_(settings_.priority),
      master_advert_interval_(settings_.advert_interval) {}

std::chrono::microseconds state_machine::skew_time() const {
  // RFC 5798 scales the skew with the master's interval; RFC 3768 counts it in seconds.
  const std::chrono::microseconds unit =
      settings_.version == 3 ? master_advert_interval_ : std::chrono::microseconds(std::chrono::seconds(1));
  return (256 - priority_) * unit / 256;
}

std::chrono::microseconds state_machine::master_down_interval() const {
  return 3 * master_advert_interval_ + skew_time();
}

step state_machine::handle(const event& e, time_point now) {
  step result = std::visit([&](const auto& ev) { return on(ev, now); }, e);
  result.to = state_;
  return result;
}

step state_machine::on(const events::start&, time_point now) {
  if (state_ != state::init) return begin(cause::already_running);
  step s = begin(cause::startup);
  if (holds_vips_) {  // started again before a handover finished
    release_vips(s);
  }
  if (!link_up_) {
    state_ = state::fault;
    deadline_.reset();
    s.why = cause::interface_down;
    return s;
  }
  master_advert_interval_ = settings_.advert_interval;
  become_backup(now);
  return s;
}

step state_machine::on(const events::resume_as_master&, time_point now) {
  if (state_ != state::init) return begin(cause::already_running);
  step s = begin(cause::inherited);
  if (!link_up_) {  // what a master does when its link goes down: the VIPs go
    release_vips(s);
    state_ = state::fault;
    deadline_.reset();
    s.why = cause::interface_down;
    return s;
  }
  // The actions of an election win, so the peers hear us within the advert interval. add_vips
  // finds them there already (not an error) and adds one the new config may have added. The
  // gratuitous ARP changes no neighbour's cache (same host, same MAC) but restarts the garp
  // refresh cycle the predecessor ran and announces such a new VIP.
  s.actions = become_master(now);
  return s;
}

step state_machine::on(const events::shutdown&, time_point now) {
  step s = begin(cause::shutdown);
  switch (state_) {
    case state::master:
      // Say we leave, but serve until someone else is master (see advert_in_handover).
      s.actions.emplace_back(advert_at(priority_leaving));
      state_ = state::init;
      deadline_ = now + master_down_interval();
      break;
    case state::backup:
    case state::fault:
      state_ = state::init;
      deadline_.reset();
      break;
    case state::init:
      if (!holds_vips_) return begin(cause::not_running);
      release_vips(s);  // a second shutdown ends the handover at once
      deadline_.reset();
      break;
  }
  return s;
}

step state_machine::on(const events::timer_expired&, time_point now) {
  if (!deadline_ || now < *deadline_) return begin(cause::timer_not_due);
  switch (state_) {
    case state::backup: {
      step s = begin(down_cause_);
      if (down_cause_ == cause::preempt) preempted_.emplace(ignored_master_, now);
      s.actions = become_master(now);
      return s;
    }
    case state::master: {
      step s = begin(cause::advert_timer);
      advertise(s, now);
      return s;
    }
    case state::init: {
      assert(holds_vips_);  // the only timer in init is the handover's
      step s = begin(cause::handover_timeout);
      release_vips(s);
      deadline_.reset();
      return s;
    }
    case state::fault: break;
  }
  assert(false && "no timer runs in fault");
  return begin(cause::timer_not_due);
}

step state_machine::on(const events::advert_received& e, time_point now) {
  const advert& a = e.message;
  if (const auto ignored = screen(a)) return begin(*ignored);
  switch (state_) {
    case state::backup: return advert_as_backup(a, now);
    case state::master: return advert_as_master(a, now);
    case state::init:
      if (holds_vips_) return advert_in_handover(a);
      break;
    case state::fault: break;
  }
  return begin(cause::not_running);
}

step state_machine::on(const events::interface_changed& e, time_point now) {
  link_up_ = e.up;
  step s = begin(e.up ? cause::interface_up : cause::interface_down);
  if (e.up) {
    if (state_ == state::fault) {
      master_advert_interval_ = settings_.advert_interval;
      become_backup(now);
    }
    return s;
  }
  if (holds_vips_) {
    release_vips(s);
  }
  if (state_ != state::init) state_ = state::fault;
  deadline_.reset();
  return s;
}

step state_machine::on(const events::priority_changed& e, time_point now) {
  assert(e.effective >= 1 && e.effective <= 254);
  step s = begin(cause::priority_change);
  if (e.effective == priority_) return s;
  priority_ = e.effective;
  if (state_ == state::master) {  // tell the backups now, not at the next tick
    advertise(s, now);
  }
  return s;
}

step state_machine::on(const events::sibling_changed& e, time_point now) {
  step s = begin(cause::sibling);
  if (e.master && state_ == state::backup) {
    s.actions = become_master(now);
  } else if (!e.master && state_ == state::master) {
    s.actions.emplace_back(advert_at(priority_));  // as when stepping down for a better advert
    release_vips(s);
    become_backup(now);
  }
  return s;
}

step state_machine::on(const events::takeover_held&, time_point now) {
  if (state_ != state::backup) return begin(cause::not_running);
  deadline_ = now + master_down_interval();  // down_cause_ stays: preempt, priority 0 or silence
  return begin(cause::held_by_sibling);
}

std::optional<cause> state_machine::screen(const advert& a) const {
  if (a.version != settings_.version) return cause::wrong_version;
  if (a.virtual_router_id != settings_.virtual_router_id) return cause::wrong_vrid;
  if (a.sender == settings_.primary_ip) return cause::own_advert;
  if (a.version == 2 && a.max_advert_interval != settings_.advert_interval) return cause::interval_mismatch;
  const auto& ours = settings_.virtual_ips;
  const bool same_vips = a.addresses.size() == ours.size() &&
                         std::is_permutation(a.addresses.begin(), a.addresses.end(), ours.begin());
  if (!same_vips && a.priority != priority_owner) return cause::address_mismatch;
  return std::nullopt;
}

step state_machine::advert_as_backup(const advert& a, time_point now) {
  if (a.priority == priority_leaving) {
    deadline_ = now + skew_time();
    down_cause_ = cause::priority_zero_advert;
    return begin(cause::priority_zero_advert);
  }
  if (!settings_.preempt || a.priority >= priority_) {
    learn_interval(a);
    deadline_ = now + master_down_interval();
    down_cause_ = cause::master_down_timer;
    return begin(cause::master_advert);
  }
  // A lower-priority master while we preempt: ignore it, and take over when the timer runs out.
  down_cause_ = cause::preempt;
  ignored_master_ = a.sender;
  return begin(cause::lower_priority_advert);
}

step state_machine::advert_as_master(const advert& a, time_point now) {
  if (a.priority == priority_leaving) {
    // Answer at once, but once per advert interval: a flood of priority-0 adverts must not
    // turn into a flood of ours.
    step s = begin(cause::priority_zero_advert);
    if (last_zero_reply_ && now - *last_zero_reply_ < settings_.advert_interval) return s;
    last_zero_reply_ = now;
    advertise(s, now);
    return s;
  }
  const bool better = a.priority > priority_ || (a.priority == priority_ && a.sender > settings_.primary_ip);
  if (better) {
    step s = begin(cause::higher_priority_advert);
    // The last word of a healed split brain: when the winner's advert crossed first, this one
    // makes it hear a lower-priority master and reassert, so clients leave our MAC.
    s.actions.emplace_back(advert_at(priority_));
    release_vips(s);
    learn_interval(a);
    become_backup(now);
    return s;
  }
  // Two masters (a healed split brain): we win; say so at once so clients follow us.
  // A master advertises every interval: two intervals of silence mean the other master was gone
  // (it yielded, or its adverts stopped reaching us), so hearing one again is a new split brain.
  const bool yielding =
      preempted_ && preempted_->first == a.sender && now - preempted_->second < master_down_interval();
  const auto episode_gap = 2 * std::chrono::microseconds(settings_.advert_interval);
  const bool new_episode = !yielding && (!last_lower_master_ || now - *last_lower_master_ >= episode_gap);
  last_lower_master_ = now;
  step s = begin(new_episode ? cause::split_brain : cause::lower_priority_advert);
  if (!new_episode && last_reassert_ && now - *last_reassert_ < settings_.advert_interval) return s;
  last_reassert_ = now;
  advertise(s, now);
  s.actions.emplace_back(send_garp{});
  return s;
}

step state_machine::advert_in_handover(const advert& a) {
  if (a.priority == priority_leaving) return begin(cause::priority_zero_advert);
  step s = begin(cause::handover_done);
  release_vips(s);
  deadline_.reset();
  return s;
}

void state_machine::release_vips(step& s) {
  s.actions.emplace_back(remove_vips{});
  holds_vips_ = false;
}

void state_machine::advertise(step& s, time_point now) {
  s.actions.emplace_back(advert_at(priority_));
  deadline_ = now + std::chrono::microseconds(settings_.advert_interval);
}

void state_machine::become_backup(time_point now) {
  state_ = state::backup;
  deadline_ = now + master_down_interval();
  down_cause_ = cause::master_down_timer;
}

std::vector<action> state_machine::become_master(time_point now) {
  state_ = state::master;
  holds_vips_ = true;
  master_advert_interval_ = settings_.advert_interval;
  deadline_ = now + std::chrono::microseconds(settings_.advert_interval);
  return {advert_at(priority_), add_vips{}, send_garp{}};
}

send_advert state_machine::advert_at(std::uint8_t prio) const {
  return send_advert{advert{settings_.version, settings_.virtual_router_id, prio, settings_.advert_interval,
                            settings_.virtual_ips, settings_.primary_ip}};
}

void state_machine::learn_interval(const advert& a) {
  if (a.version == 3) master_advert_interval_ = a.max_advert_interval;
}

}  // namespace cplb::vrrp
