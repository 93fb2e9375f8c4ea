#pragma once
#include <boost/intrusive/list.hpp>

#include <array>
#include <atomic>
#include <memory>
#include <random>
#include <span>
#include <thread>
#include <vector>

#include "cplb/core/per_worker.hpp"
#include "cplb/generation/generation.hpp"
#include "cplb/proxy/handover.hpp"
#include "cplb/proxy/proxy.hpp"
#include "event_loop.hpp"
#include "heartbeat.hpp"
#include "session.hpp"
#include "session_host.hpp"
#include "shared_state.hpp"

namespace cplb::proxy {

class acceptor;

/// One proxy thread: its event loop, its acceptors, its sessions and its pickers. Everything
/// here is touched only from the worker's own thread, except the constructor, `run`, `join`,
/// `post` and `liveness`.
class worker final : public session_host {
 public:
  worker(unsigned index, shared_state& shared);
  ~worker();

  /// Runs `work` on the worker's thread. Safe from any thread.
  void post(std::function<void()> work) { loop_.post(std::move(work)); }
  /// Shared state of all workers.
  shared_state& shared() { return shared_; }
  /// Its liveness proof: the control thread posts no-ops that mark it (see heartbeat).
  heartbeat& liveness() { return liveness_; }

  /// Starts the thread.
  void run();
  /// Waits for the thread to end.
  void join();

  /// Switches to `gen` and its listening sockets: `fds[i]` is a new socket for gen->frontends[i],
  /// or -1 to keep the acceptor already on that address (re-applying the frontend's session
  /// options to it when `reapply[i]`, so accepted sockets inherit the new ones). Runs on the
  /// worker thread.
  void apply(generation::snapshot_ptr gen, std::vector<int> fds, std::vector<bool> reapply);
  /// Closes every acceptor. Runs on the worker thread.
  void stop_accepting();
  /// Closes the sessions to `server`, spread over `spread`. Runs on the worker thread.
  void close_sessions(const backend::server* server, duration spread);
  /// Rebalancing: lets up to `share` of its sessions to `server` that have been quiet for
  /// `quiet` leave, oldest first, each at a random moment within `window`, while the shared
  /// `budget` lasts. Runs on the worker thread.
  void rebalance(const backend::server* server, std::int64_t share,
                 const std::shared_ptr<std::atomic<std::int64_t>>& budget, duration quiet,
                 duration window);
  /// Closes everything and ends the thread. Runs on the worker thread.
  void shutdown();

  /// Binary upgrade: stops every session that can move and appends it to `out` (see
  /// session::hand_over). Sessions that are ending stay and end here.
  void hand_over_sessions(std::vector<handed_session>& out);
  /// Resumes `handed` on this worker (see session::resume); closes it when its frontend is not
  /// in the current generation.
  void adopt(handed_session handed);
  /// The listening socket of every frontend this worker accepts on.
  std::vector<std::pair<socket_address, int>> listening_sockets() const;

  // session_host
  event_loop& loop() override { return loop_; }
  unsigned slot() const override { return index_; }
  std::span<char> scratch() override { return {scratch_.data(), scratch_.size()}; }
  buffer_account& buffers() override { return shared_.buffers; }
  pipe_budget& pipes() override { return shared_.pipes; }
  sockmap_path* sockmap() override { return shared_.sockmap.get(); }
  int pick(const backend::backend& backend, backend::server_mask eligible,
           std::uint64_t client_key) override;
  void connect_failed(const backend::server_ptr& server, backend::down_reason why) override;
  void session_started(session& s) override;
  void session_ended(session& s) override;
  void moved_bytes(std::uint64_t bytes) override { add_owned(bytes_, bytes); }

  /// Its load, for the metrics. Safe from any thread.
  worker_load load() const;

 private:
  unsigned index_;
  shared_state& shared_;
  event_loop loop_;
  heartbeat liveness_;
  std::thread thread_;
  generation::snapshot_ptr generation_;
  std::vector<std::unique_ptr<acceptor>> acceptors_;
  std::minstd_rand random_;  ///< rebalance jitter
  boost::intrusive::list<session, boost::intrusive::base_hook<session_hook>, boost::intrusive::constant_time_size<true>> sessions_;
  std::array<char, 256 * 1024> scratch_;
  std::atomic<std::int64_t> active_{0};   ///< sessions_.size(), readable from other threads
  std::atomic<std::uint64_t> bytes_{0};   ///< written by this thread only
};

}  // namespace cplb::proxy
