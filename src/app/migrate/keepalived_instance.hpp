#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "draft.hpp"
#include "keepalived_syntax.hpp"

namespace cplb::app::migrate::keepalived {

/// Reasons that the instances and the top level both give.
inline constexpr std::string_view no_scripts = "cplb runs no scripts";
inline constexpr std::string_view no_mail = "cplb sends no mail: alert on cplb_vrrp_state";

/// A `vrrp_script` block, for the instances that track it.
struct script {
  const node* block = nullptr;
  long weight = 0;  ///< keepalived's default: failing puts the instance in FAULT
  const node* weight_line = nullptr;
};

/// What the top level sets for every instance.
struct defaults {
  unsigned version = 2;  ///< keepalived's default vrrp_version
  const node* version_line = nullptr;
  garp_draft garp;
  std::map<std::string, script> scripts;
};

/// What the instances mapped so far hold, which must stay unique.
struct registry {
  std::set<std::string> names;
  std::set<std::string> routers;  ///< interface/virtual_router_id
  std::set<std::uint32_t> virtual_ips;
};

/// The `vrrp_instance` block as a cplb VRRP instance, or nullopt with the reason in `dropped`
/// (no interface, router id or IPv4 virtual IP cplb can take; a router id taken already). A
/// `track_script` becomes `track_backends` over `backends`.
std::optional<vrrp_draft> map_instance(const node& block, const defaults& d,
                                       const std::vector<std::string>& backends, registry& taken,
                                       remarks& dropped);

}  // namespace cplb::app::migrate::keepalived
