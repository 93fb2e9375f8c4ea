#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace cplb::proxy {

/// Where a connection accepted by worker `self` should live, given what each worker carries
/// (`owed`: sessions held or on their way): `self`, or the worker with the fewest when that is
/// clearly fewer. Exact while counts are small (4 bulk streams split 2:2); an eighth of slack
/// when large, so short connections at a steady rate rarely pay the hand-over. Pure.
inline std::size_t choose_worker(std::span<const std::int64_t> owed, std::size_t self) {
  const std::int64_t mine = owed[self];
  std::size_t best = self;
  for (std::size_t w = 0; w < owed.size(); ++w)
    if (owed[w] < owed[best]) best = w;
  return owed[best] < mine - mine / 8 ? best : self;
}

}  // namespace cplb::proxy
