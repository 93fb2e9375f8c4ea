#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "cplb/backend/picker.hpp"

namespace cplb::backend::detail {

/// nginx's smooth weighted round robin over a changing subset of servers: each step adds every
/// member's weight to its current weight, picks the highest and takes the members' total from it.
/// With equal weights it is a plain rotation; with weights 5,1,1 it gives a,a,b,a,c,a,a.
class smooth_weighted {
 public:
  /// State for `n` servers; ties go to the first member at or after `offset`, then wrap around.
  smooth_weighted(std::size_t n, unsigned offset);

  /// The next server among `members` (indexes into `servers`), or -1 when `members` is empty.
  int next(std::span<const server_ptr> servers, server_mask members);

 private:
  std::vector<std::int64_t> current_;
  unsigned offset_;
};

}  // namespace cplb::backend::detail
