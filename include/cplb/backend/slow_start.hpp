#pragma once
#include <chrono>
#include <cstdint>

#include "cplb/backend/server.hpp"

namespace cplb::backend {

/// The slow-start ramp `elapsed` into a `window`: 0 at the start, growing linearly to ramp_full
/// (pure). A zero window is no slow start.
inline std::int64_t slow_start_ramp(std::chrono::nanoseconds elapsed, std::chrono::nanoseconds window) {
  if (window.count() <= 0 || elapsed >= window) return ramp_full;
  if (elapsed.count() <= 0) return 0;
  return static_cast<std::int64_t>(static_cast<double>(ramp_full) * static_cast<double>(elapsed.count()) /
                                   static_cast<double>(window.count()));
}

}  // namespace cplb::backend
