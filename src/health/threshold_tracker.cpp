#include "cplb/health/threshold_tracker.hpp"

#include <algorithm>

namespace cplb::health {

using backend::server_state;

threshold_tracker::threshold_tracker(unsigned rise, unsigned fall) { set_thresholds(rise, fall); }

void threshold_tracker::set_thresholds(unsigned rise, unsigned fall) {
  rise_ = std::max(rise, 1u);
  fall_ = std::max(fall, 1u);
}

std::optional<server_state> threshold_tracker::enter(server_state s) {
  passes_ = 0;
  failures_ = 0;
  if (s == state_) return std::nullopt;
  state_ = s;
  return state_;
}

std::optional<server_state> threshold_tracker::record(outcome o, bool conclusive) {
  const server_state out_of_service = o == outcome::not_ready ? server_state::not_ready : server_state::down;
  switch (state_) {
    case server_state::unchecked:
      return enter(o == outcome::passed ? server_state::up : out_of_service);
    case server_state::up:
      if (o == outcome::passed) {
        failures_ = 0;
        return std::nullopt;
      }
      failures_ = conclusive ? fall_ : failures_ + 1;
      if (failures_ < fall_) return std::nullopt;
      return enter(out_of_service);
    case server_state::not_ready:
    case server_state::down:
      if (o != outcome::passed) {
        passes_ = 0;
        return out_of_service == state_ ? std::nullopt : enter(out_of_service);
      }
      if (++passes_ < rise_) return std::nullopt;
      return enter(server_state::up);
  }
  return std::nullopt;
}

bool threshold_tracker::disagrees(outcome o) const {
  if (state_ == server_state::unchecked) return false;
  return (o == outcome::passed) != (state_ == server_state::up);
}

}  // namespace cplb::health
