#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cplb/backend/server.hpp"
#include "cplb/core/duration.hpp"
#include "cplb/generation/generation.hpp"
#include "cplb/proxy/handover.hpp"

namespace cplb::proxy {

class worker;
struct shared_state;

/// Called on a worker thread when a connect to a server failed (passive health detection), with
/// why: refused, timeout or connect_failed.
using connect_failure_hook = std::function<void(const backend::server_ptr&, backend::down_reason)>;

/// A worker whose event loop has left a posted no-op waiting (see proxy::ping_workers).
struct stalled_worker {
  unsigned index;   ///< 0 to workers - 1
  duration waited;  ///< since the no-op was posted
};

/// Pipes each worker adds to the bulk pipes the sessions may hold (see fd_budget::bulk_pipes):
/// a bulk direction moves by splice through one, and copies when none is free.
constexpr std::size_t bulk_pipes_per_worker = 8;

/// What one worker carries, for the metrics and the benchmark's per-worker split.
struct worker_load {
  std::int64_t active_sessions = 0;
  std::uint64_t bytes = 0;   ///< passed on either way since start
  double cpu_seconds = 0;    ///< the thread's CPU time
};

/// The listening sockets a generation needs that the running one does not have, bound and
/// listening but not yet accepted from. Made by proxy::prepare; closed unless committed.
class prepared_listeners {
 public:
  prepared_listeners() = default;
  prepared_listeners(prepared_listeners&& other) noexcept;
  prepared_listeners& operator=(prepared_listeners&& other) noexcept;
  ~prepared_listeners();

 private:
  friend class proxy;
  void close_all() noexcept;

  std::vector<std::vector<int>> fds_;  ///< [worker][frontend]: a new socket, or -1 to keep one
  std::vector<bool> reapply_;          ///< [frontend]: kept socket whose session options changed
};

/// The data path: `workers` threads, each with its own event loop and its own SO_REUSEPORT
/// listening socket per frontend. Sessions live and die on the worker that accepted them. The
/// public interface is called from the control thread only; no Asio here, so callers compile fast.
class proxy {
 public:
  proxy(unsigned workers, std::size_t max_connections, connect_failure_hook on_connect_failure);
  ~proxy();
  proxy(const proxy&) = delete;
  proxy& operator=(const proxy&) = delete;

  /// Opens what `next` needs beyond the committed generation: a listening socket per worker for
  /// each frontend whose address is new. Touches nothing live. False with `error` naming the
  /// frontend and address when one cannot be bound (everything opened is closed again).
  bool prepare(const generation::snapshot& next, prepared_listeners& out, std::string& error) const;

  /// Switches the workers to `next`: new frontends listen, removed ones stop accepting, changed
  /// addresses move, changed session options apply to new sessions; sessions go on untouched.
  /// `listeners` must come from prepare(next) against the generation committed now. Once the
  /// workers run, it returns when they have all switched (a turn each; at most a second).
  void commit(generation::snapshot_ptr next, prepared_listeners listeners) noexcept;

  /// Starts the worker threads (once, after the first commit).
  void start();

  /// The sockmap data path (global.data_path), before start: loads its program and maps, so
  /// bulk sessions move inside the kernel. False with `error` when the kernel or the privileges
  /// do not allow it: every session stays on the epoll path.
  bool open_sockmap(std::string& error);
  /// Before start, at an upgrade: takes over the previous process's sockmap, with the sessions
  /// it will hand over in it. False with `error` when its maps are not this version's.
  bool inherit_sockmap(handed_sockmap maps, std::string& error);
  /// Copies (dup) of the sockmap's maps for the next process (-1 each on the epoll path). From
  /// then on no session joins the sockhash (bulk moves by splice) until `take_back_sockmap`.
  handed_sockmap lend_sockmap();
  /// After a failed upgrade: sessions join the sockhash again.
  void take_back_sockmap();
  /// Once the previous process has ended: gives back the sockmap pairs of the sessions it kept
  /// (see sockmap_path::free_inherited); the count.
  std::size_t free_inherited_sockmap_pairs();

  /// Closes the sessions to `server` on every worker: at once (reset) when `spread` is zero,
  /// else one after another evenly over `spread`.
  void close_sessions(const backend::server_ptr& server, duration spread);

  /// Rebalancing: lets up to `count` sessions to `server` that have been quiet for `quiet` leave
  /// (a FIN to the client once the server's bytes in flight are passed on), oldest first on each
  /// worker, each at a random moment within `window`. Returns what is left of `count` once the
  /// workers have looked (after their next turn): closes there were no quiet sessions for.
  std::shared_ptr<const std::atomic<std::int64_t>> rebalance(const backend::server_ptr& server,
                                                             std::int64_t count, duration quiet,
                                                             duration window);

  /// Stops accepting on every frontend and returns once no worker accepts any more (it waits
  /// for each worker's current turn, microseconds); open sessions go on.
  void stop_accepting();

  /// Closes every session and stops the workers; returns once they have all exited.
  void stop();

  // Binary upgrade (see docs/design.md). All of these wait for the workers' next turn.
  /// Copies (dup) of every listening socket, per frontend address, one per worker; the caller
  /// owns them.
  std::vector<handed_listener> listeners() const;
  /// Before the first prepare: listening sockets handed over by the previous process. prepare
  /// uses them for frontends on their addresses instead of binding, so no queued connection
  /// is lost; those no frontend uses are closed at the first commit.
  void inherit_listeners(std::vector<handed_listener> listeners);
  /// Stops every session that can move (accepting should have stopped) and returns them.
  std::vector<handed_session> hand_over_sessions();
  /// Resumes handed-over sessions, each on the worker with the fewest sessions.
  void adopt_sessions(std::vector<handed_session> sessions);
  /// After stop_accepting, a failed upgrade: accepts again on `listeners` (from listeners()).
  void resume_accepting(std::vector<handed_listener> listeners);

  /// Liveness: posts a no-op to every worker that has run the one posted before (call it about
  /// every second). Never piles up work on a stuck worker.
  void ping_workers();
  /// The workers whose no-op has waited longer than `limit`: their event loop is stuck.
  std::vector<stalled_worker> stalled_workers(duration limit) const;

  /// Sessions open over all workers.
  std::size_t active_sessions() const;

  /// The connection cap in force (max_connections, possibly lowered to fit RLIMIT_NOFILE).
  std::size_t max_connections() const;
  /// Changes the cap (reload); sessions over a lowered cap go on, new ones wait for room.
  void set_max_connections(std::size_t cap);
  /// The pipes all bulk directions may hold at once.
  std::size_t bulk_pipes() const;
  void set_bulk_pipes(std::size_t pipes);
  /// Changes max_buffer_memory (start and reload).
  void set_max_buffer_memory(std::uint64_t bytes);
  /// Each worker's load, by index. Safe from the control thread at any time.
  std::vector<worker_load> worker_loads() const;
  /// Bytes the sessions hold for slow peers now (cplb_buffer_memory_bytes).
  std::int64_t buffered_bytes() const;

 private:
  std::shared_ptr<shared_state> shared_;
  std::vector<std::unique_ptr<worker>> workers_;
  /// Runs `work(worker)` on every worker and waits until all have.
  void on_every_worker(const std::function<void(worker&)>& work) const;

  generation::snapshot_ptr current_;
  std::vector<handed_listener> inherited_;  ///< until the first commit
  bool running_ = false;  ///< start() has run the threads
};

}  // namespace cplb::proxy
