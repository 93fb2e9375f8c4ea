#pragma once
#include <string>

namespace cplb::metrics {

/// What metrics and /status show of one VRRP instance.
struct vrrp_status {
  std::string name;                 ///< the instance's name (`VI_1`)
  std::string state;                ///< `init`, `backup`, `master` or `fault`
  unsigned effective_priority = 0;  ///< the priority it advertises now
};

}  // namespace cplb::metrics
