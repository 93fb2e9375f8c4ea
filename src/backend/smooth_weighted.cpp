#include "smooth_weighted.hpp"

#include "bits.hpp"

namespace cplb::backend::detail {

smooth_weighted::smooth_weighted(std::size_t n, unsigned offset)
    : current_(n, 0), offset_(offset) {}

int smooth_weighted::next(std::span<const server_ptr> servers, server_mask members) {
  const server_mask before_offset = first_n(offset_);
  std::int64_t total = 0;
  int best = -1;
  // Members at or after the offset first, so ties rotate from the offset.
  for (const server_mask part : {members & ~before_offset, members & before_offset}) {
    for (server_mask m = part; m != 0; m &= m - 1) {
      const int i = lowest(m);
      const std::int64_t w = weight_of(*servers[i]);
      current_[i] += w;
      total += w;
      if (best < 0 || current_[i] > current_[best]) best = i;
    }
  }
  if (best >= 0) current_[best] -= total;
  return best;
}

}  // namespace cplb::backend::detail
