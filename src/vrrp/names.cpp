#include "cplb/vrrp/action.hpp"
#include "cplb/vrrp/codec.hpp"
#include "cplb/vrrp/state.hpp"

namespace cplb::vrrp {

const char* to_string(decode_error e) {
  switch (e) {
    case decode_error::none: return "none";
    case decode_error::too_short: return "too_short";
    case decode_error::bad_ip_version: return "bad_ip_version";
    case decode_error::bad_ip_header_length: return "bad_ip_header_length";
    case decode_error::bad_ip_total_length: return "bad_ip_total_length";
    case decode_error::ip_fragment: return "ip_fragment";
    case decode_error::not_vrrp: return "not_vrrp";
    case decode_error::bad_version: return "bad_version";
    case decode_error::bad_type: return "bad_type";
    case decode_error::zero_vrid: return "zero_vrid";
    case decode_error::length_mismatch: return "length_mismatch";
    case decode_error::bad_auth_type: return "bad_auth_type";
    case decode_error::zero_interval: return "zero_interval";
    case decode_error::bad_checksum: return "bad_checksum";
  }
  return "unknown";
}

const char* to_string(state s) {
  switch (s) {
    case state::init: return "init";
    case state::backup: return "backup";
    case state::master: return "master";
    case state::fault: return "fault";
  }
  return "unknown";
}

const char* to_string(cause c) {
  switch (c) {
    case cause::startup: return "startup";
    case cause::inherited: return "inherited";
    case cause::shutdown: return "shutdown";
    case cause::master_down_timer: return "master_down_timer";
    case cause::preempt: return "preempt";
    case cause::advert_timer: return "advert_timer";
    case cause::master_advert: return "master_advert";
    case cause::higher_priority_advert: return "higher_priority_advert";
    case cause::lower_priority_advert: return "lower_priority_advert";
    case cause::split_brain: return "split_brain";
    case cause::priority_zero_advert: return "priority_zero_advert";
    case cause::priority_change: return "priority_change";
    case cause::interface_down: return "interface_down";
    case cause::interface_up: return "interface_up";
    case cause::sibling: return "sibling";
    case cause::held_by_sibling: return "held_by_sibling";
    case cause::handover_done: return "handover_done";
    case cause::handover_timeout: return "handover_timeout";
    case cause::not_running: return "not_running";
    case cause::already_running: return "already_running";
    case cause::timer_not_due: return "timer_not_due";
    case cause::own_advert: return "own_advert";
    case cause::wrong_version: return "wrong_version";
    case cause::wrong_vrid: return "wrong_vrid";
    case cause::interval_mismatch: return "interval_mismatch";
    case cause::address_mismatch: return "address_mismatch";
  }
  return "unknown";
}

std::string to_string(const action& a) {
  struct namer {
    std::string operator()(const send_advert& s) const {
      return "send_advert(priority=" + std::to_string(s.message.priority) + ")";
    }
    std::string operator()(const add_vips&) const { return "add_vips"; }
    std::string operator()(const remove_vips&) const { return "remove_vips"; }
    std::string operator()(const send_garp&) const { return "send_garp"; }
  };
  return std::visit(namer{}, a);
}

}  // namespace cplb::vrrp
