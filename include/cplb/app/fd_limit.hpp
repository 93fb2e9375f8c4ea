#pragma once
#include <cstddef>
#include <string>

#include "cplb/config/config.hpp"

namespace cplb::app {

/// The outcome of fitting max_connections into RLIMIT_NOFILE.
struct fd_budget {
  std::size_t max_connections = 0;  ///< the cap to enforce
  std::size_t fd_limit = 0;         ///< the soft limit now in force
  bool lowered = false;             ///< true when the configured cap did not fit
  std::size_t bulk_pipes = 0;       ///< pipes the bulk sessions may hold at once (two fds each)
};

/// The descriptors `cfg` needs besides its sessions (pure): stdio, the control thread's reactor,
/// timers and signal pipe, each worker's epoll set, eventfd and listening socket per frontend,
/// one health probe per server, the admin listener and its `admin_connections`, the sockets of
/// each VRRP instance, and a small margin.
std::size_t fd_headroom(const config::config& cfg, unsigned workers, std::size_t admin_connections);

/// The cap that fits `limit` descriptors: two per session plus `headroom`, and up to
/// `max_pipes` bulk pipes at two each (pure). The pipes take descriptors the cap leaves over;
/// where the limit is what bounds the cap, they take at most one session's in 64 from it.
fd_budget fit_connections(std::size_t wanted, std::size_t limit, std::size_t headroom,
                          std::size_t max_pipes);

/// Raises the soft RLIMIT_NOFILE to the hard limit and fits `wanted` sessions and up to
/// `max_pipes` bulk pipes into it.
fd_budget raise_fd_limit(std::size_t wanted, std::size_t headroom, std::size_t max_pipes);

}  // namespace cplb::app
