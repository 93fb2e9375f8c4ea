#pragma once
#include <chrono>

namespace cplb {

/// A source of monotonic time, injected into the pure modules so tests can drive time.
class clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~clock() = default;
  /// The current monotonic time.
  virtual time_point now() const = 0;
};

/// A clock that moves only when told to; for tests.
class fake_clock final : public clock {
 public:
  time_point now() const override { return now_; }
  /// Moves time forward.
  void advance(std::chrono::steady_clock::duration d) { now_ += d; }

 private:
  time_point now_{std::chrono::seconds(1000)};
};

}  // namespace cplb
