#pragma once
#include <cstddef>
#include <string>

namespace cplb::app {

/// The outcome of fitting max_connections into RLIMIT_NOFILE.
struct fd_budget {
  std::size_t max_connections = 0;  ///< the cap to enforce
  std::size_t fd_limit = 0;         ///< the soft limit now in force
  bool lowered = false;             ///< true when the configured cap did not fit
};

/// Descriptors kept free for listeners, health probes, admin, VRRP and logs.
inline constexpr std::size_t fd_headroom = 256;

/// The cap that fits `limit` descriptors: two per session plus headroom (pure).
fd_budget fit_connections(std::size_t wanted, std::size_t limit);

/// Raises the soft RLIMIT_NOFILE to the hard limit and fits `wanted` sessions into it.
fd_budget raise_fd_limit(std::size_t wanted);

}  // namespace cplb::app
