#pragma once
#include <algorithm>
#include <cstdint>

namespace cplb::vrrp {

/// The priority to advertise: `base` (1..254), lowered by `penalty` while any tracked backend has
/// no healthy server; never below 1 (0 means "leaving") nor above 254 (255 means "owner").
constexpr std::uint8_t effective_priority(unsigned base, unsigned penalty, bool any_tracked_backend_down) {
  const unsigned lowered = any_tracked_backend_down ? (penalty >= base ? 1U : base - penalty) : base;
  return static_cast<std::uint8_t>(std::clamp(lowered, 1U, 254U));
}

}  // namespace cplb::vrrp
