#include "cplb/health/threshold_tracker.hpp"

#include <algorithm>

namespace cplb::health {

using backend::server_state;

threshold_tracker::threshold_tracker(unsigned rise, unsigned fall) { set_thresholds(rise, fall); }

void threshold_tracker::set_thresholds(unsigned rise, unsigned fall) {
  rise_ = std::max(rise, 1u);
  fall_ = std::max(fall, 1u);
}

std::optional<server_state> threshold_tracker::record(bool passed, bool conclusive) {
  switch (state_) {
    case server_state::unchecked:
      state_ = passed ? server_state::up : server_state::down;
      return state_;
    case server_state::down:
      passes_ = passed ? passes_ + 1 : 0;
      if (passes_ < rise_) return std::nullopt;
      passes_ = 0;
      state_ = server_state::up;
      return state_;
    case server_state::up:
      failures_ = passed ? 0 : conclusive ? fall_ : failures_ + 1;
      if (failures_ < fall_) return std::nullopt;
      failures_ = 0;
      state_ = server_state::down;
      return state_;
  }
  return std::nullopt;
}

}  // namespace cplb::health
