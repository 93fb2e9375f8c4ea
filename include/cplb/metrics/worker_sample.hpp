#pragma once
#include <cstdint>

namespace cplb::metrics {

/// What the metrics show of one proxy worker (cplb_worker_*), read at scrape time.
struct worker_sample {
  std::int64_t active_sessions = 0;
  std::uint64_t bytes = 0;  ///< passed on either way
  double cpu_seconds = 0;
};

}  // namespace cplb::metrics
