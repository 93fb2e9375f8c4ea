#pragma once
#include <array>
#include <string>

namespace cplb::metrics {

/// The states a VRRP instance may be in, as `vrrp_status::state` names them.
inline constexpr std::array<const char*, 4> vrrp_states{"init", "backup", "master", "fault"};

/// What metrics and /status show of one VRRP instance.
struct vrrp_status {
  std::string name;                 ///< the instance's name (`VI_1`)
  std::string state;                ///< `init`, `backup`, `master` or `fault`
  unsigned effective_priority = 0;  ///< the priority it advertises now
};

}  // namespace cplb::metrics
