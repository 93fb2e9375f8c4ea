#pragma once
#include "cplb/core/duration.hpp"

namespace cplb::health {

/// `interval` spread by ±10%: `unit` in [0, 1] maps linearly onto [0.9, 1.1] × interval, so
/// probes of many servers started together drift apart.
inline duration jittered(duration interval, double unit) {
  const double factor = 0.9 + 0.2 * unit;
  return duration(static_cast<duration::rep>(static_cast<double>(interval.count()) * factor));
}

}  // namespace cplb::health
