#pragma once
#include <boost/intrusive/list.hpp>

#include <span>

#include <array>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cplb/proxy/proxy.hpp"
#include "event_loop.hpp"
#include "session.hpp"
#include "shared_state.hpp"

namespace cplb::proxy {

class listener;

/// One proxy thread: its event loop, its listeners, its sessions and its pickers. Everything
/// here is touched only from the worker's own thread, except the constructor, `run`, `join` and
/// `post`.
class worker {
 public:
  worker(unsigned index, shared_state& shared);
  ~worker();

  /// This worker's index (its slot in per-worker counters).
  unsigned index() const { return index_; }
  /// Runs `work` on the worker's thread. Safe from any thread.
  void post(std::function<void()> work) { loop_.post(std::move(work)); }
  /// Shared state of all workers.
  shared_state& shared() { return shared_; }
  /// The worker's event loop.
  event_loop& loop() { return loop_; }
  /// Scratch buffer for one read: data only passes through it, so idle sessions hold none.
  std::span<char> scratch() { return {scratch_.data(), scratch_.size()}; }

  /// Starts the thread.
  void run();
  /// Waits for the thread to end.
  void join();

  /// Switches to `rt` and its listeners (`fds[i]` for rt->frontends[i]; -1 = keep the current
  /// listener of that frontend). Runs on the worker thread.
  void apply(std::shared_ptr<const runtime> rt, std::vector<int> fds);
  /// Closes every listener. Runs on the worker thread.
  void stop_accepting();
  /// Closes the sessions to `server`, spread over `spread`. Runs on the worker thread.
  void close_sessions(const backend::server* server, duration spread);
  /// Closes everything and ends the thread. Runs on the worker thread.
  void shutdown();

  /// Picks a server of `backend` among `eligible`; -1 when none.
  int pick(const backend::backend& backend, backend::server_mask eligible, std::uint64_t client_key);

  /// A session started / ended on this worker.
  void add_session(session& s);
  void remove_session(session& s);

 private:
  unsigned index_;
  shared_state& shared_;
  event_loop loop_;
  std::thread thread_;
  std::shared_ptr<const runtime> runtime_;
  std::vector<std::unique_ptr<listener>> listeners_;
  std::unordered_map<const backend::backend*, std::unique_ptr<backend::picker>> pickers_;
  boost::intrusive::list<session, boost::intrusive::base_hook<session_hook>, boost::intrusive::constant_time_size<true>> sessions_;
  std::array<char, 256 * 1024> scratch_;
};

}  // namespace cplb::proxy
