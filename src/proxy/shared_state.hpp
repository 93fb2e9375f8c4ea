#pragma once
#include <atomic>
#include <cstddef>
#include <memory>

#include "buffer_account.hpp"
#include "cplb/proxy/proxy.hpp"
#include "load_placement.hpp"
#include "sockmap_path.hpp"
#include "splice_pipe.hpp"

namespace cplb::proxy {

/// What every worker shares: the global session count behind max_connections, the hooks and
/// where each worker publishes its session count for the placement of new connections.
struct shared_state {
  explicit shared_state(unsigned workers) : placement(workers) {}

  std::atomic<std::size_t> max_connections{0};  ///< changed by reloads
  std::atomic<std::size_t> active_sessions{0};
  connect_failure_hook on_connect_failure;
  buffer_account buffers;
  pipe_budget pipes{1 << 20};
  load_placement placement;
  std::unique_ptr<sockmap_path> sockmap;  ///< set before the workers start; null: epoll

  /// Claims a session slot; false when the cap is reached. One atomic per session, not per read.
  bool try_open_session() {
    if (active_sessions.fetch_add(1, std::memory_order_relaxed) <
        max_connections.load(std::memory_order_relaxed))
      return true;
    active_sessions.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  /// Takes a slot whatever the cap: a session handed over at an upgrade is already established.
  void adopt_session() { active_sessions.fetch_add(1, std::memory_order_relaxed); }
  /// Gives a slot back.
  void close_session() { active_sessions.fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace cplb::proxy
