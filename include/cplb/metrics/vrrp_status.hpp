#pragma once
#include <string>

#include "cplb/vrrp/state.hpp"

namespace cplb::metrics {

/// What metrics and /status show of one VRRP instance.
struct vrrp_status {
  std::string name;                 ///< the instance's name (`VI_1`)
  vrrp::state state = vrrp::state::init;
  unsigned effective_priority = 0;  ///< the priority it advertises now
};

}  // namespace cplb::metrics
