#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cplb/backend/server.hpp"
#include "cplb/core/duration.hpp"
#include "cplb/proxy/runtime.hpp"

namespace cplb::proxy {

class worker;
struct shared_state;

/// Called on a worker thread when a connect to a server failed (passive health detection), with
/// why: refused, timeout or connect_failed.
using connect_failure_hook = std::function<void(const backend::server_ptr&, backend::down_reason)>;

/// The data path: `workers` threads, each with its own io_context and its own SO_REUSEPORT
/// listener per frontend. Sessions live and die on the worker that accepted them. The public
/// interface is called from the control thread only; no Asio here, so callers compile fast.
class proxy {
 public:
  proxy(unsigned workers, std::size_t max_connections, connect_failure_hook on_connect_failure);
  ~proxy();
  proxy(const proxy&) = delete;
  proxy& operator=(const proxy&) = delete;

  /// Number of worker threads.
  unsigned worker_count() const;

  /// Binds every frontend of `rt` and starts the workers. Throws std::runtime_error naming the
  /// frontend and address when a listener cannot be bound.
  void start(std::shared_ptr<const runtime> rt);

  /// Switches the workers to `rt`: new frontends listen, removed ones stop accepting, changed
  /// addresses rebind; sessions go on untouched. Returns false (and changes nothing) with
  /// `error` set when a new listener cannot be bound.
  bool update(std::shared_ptr<const runtime> rt, std::string& error);

  /// Closes the sessions to `server` on every worker: at once (reset) when `spread` is zero,
  /// else one after another evenly over `spread`.
  void close_sessions(const backend::server_ptr& server, duration spread);

  /// Stops accepting on every frontend and returns once no worker accepts any more (it waits
  /// for each worker's current turn, microseconds); open sessions go on.
  void stop_accepting();

  /// Closes every session and stops the workers; returns once they have all exited.
  void stop();

  /// Sessions open over all workers.
  std::size_t active_sessions() const;

  /// The connection cap in force (max_connections, possibly lowered to fit RLIMIT_NOFILE).
  std::size_t max_connections() const;
  /// Changes the cap (reload); sessions over a lowered cap go on, new ones wait for room.
  void set_max_connections(std::size_t cap);

 private:
  std::shared_ptr<shared_state> shared_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::shared_ptr<const runtime> current_;
};

}  // namespace cplb::proxy
