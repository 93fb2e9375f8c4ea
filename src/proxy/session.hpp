#pragma once
#include <boost/intrusive/list_hook.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "cplb/backend/backend.hpp"
#include "client_activity.hpp"
#include "cplb/generation/generation.hpp"
#include "cplb/proxy/handover.hpp"
#include "event_loop.hpp"
#include "session_host.hpp"
#include "splice_pipe.hpp"

struct cplb_leg;

namespace cplb::proxy {

/// Hook into the worker's list of live sessions.
using session_hook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>>;

/// One client connection and its upstream leg. Lives on one worker thread from accept to close,
/// and reaches the worker only through `session_host`.
///
/// Both legs are plain non-blocking descriptors in the worker's edge-triggered event loop; the
/// session remembers which of them are readable and writable and moves bytes while it can.
/// Data moves readiness-first: read into the worker's scratch buffer, write straight to the
/// other leg. Only bytes the other leg could not take yet are copied into a per-direction
/// buffer, which is freed once flushed: an idle session holds none. A bulk direction (its reads
/// fill what they ask for) moves through a kernel pipe with splice instead, the payload never
/// copied into user space, until its reads turn small and the pipe is closed. On the sockmap
/// data path a session whose direction turns bulk puts both legs in the sockhash instead, where
/// the kernel moves each direction's bytes within a credit and leaves the rest on the socket for
/// the pump as before (see docs/design.md, "The sockmap path").
///
/// Lifetime: the session owns itself. When it ends it closes both legs and hands itself to the
/// loop, which frees it once the current turn is over (a later event of the same batch may
/// still name it). One timer serves the connect, idle and drain deadlines.
class session final : public session_hook, public loop_target {
 public:
  using end_reason = generation::session_end;

  /// Takes the accepted `client_fd`. `frontend` belongs to `gen`, which the session keeps alive.
  /// `client_key` hashes the client's IP; with `source_counted` the session holds one of its
  /// frontend's per-source slots for that key, and gives it back when it ends.
  session(session_host& host, int client_fd, generation::snapshot_ptr gen,
          const generation::frontend& frontend, std::uint64_t client_key,
          bool source_counted = false);
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Picks a server and connects, then pumps.
  void start();
  /// Instead of start: resumes a session handed over by another process (or taken back after a
  /// failed upgrade), whose client descriptor the constructor took. `server` is its server in
  /// this generation (index `index` in the backend), or null when it has none here: it is then
  /// drained after the backend's drain grace.
  void resume(handed_session& handed, backend::server_ptr server, int index);
  /// Binary upgrade: takes both descriptors out of the loop, open, into `out` with the bytes not
  /// yet forwarded (and its place in the sockmap), and frees the session without closing them or
  /// counting an end. False (and nothing done) for a session that is ending or leaving to
  /// rebalance: it stays.
  bool hand_over(handed_session& out);
  /// Ends the session now, resetting both legs, and counts it under `why` (drained, shutdown).
  void abort(end_reason why);
  /// Ends the session at `deadline` unless it ends sooner, counted as drained.
  void close_at(std::chrono::steady_clock::time_point deadline);
  /// At `deadline`, unless the session ends or is drained sooner, leaves gracefully to
  /// rebalance the backend: passes on what the server has sent, closes the server's leg, sends
  /// the client a FIN and waits (briefly) for the client to close. Counted as rebalanced. Called
  /// off at the deadline if the server is no longer up and settled or the client is no longer
  /// quiet.
  void rebalance_at(std::chrono::steady_clock::time_point deadline);
  /// The server this session is connected (or connecting) to, or nullptr.
  const backend::server* server() const { return server_.get(); }
  /// When the client connected.
  std::chrono::steady_clock::time_point started_at() const { return started_at_; }
  /// True when the session may be chosen to rebalance: pumping, not yet told to close, and its
  /// client has sent no request for `quiet` by `now`.
  bool rebalanceable(std::chrono::nanoseconds quiet, std::chrono::steady_clock::time_point now) const {
    return !connecting_ && !closing_ && !leaving_ && server_ && !close_deadline_set() &&
           client_activity_.quiet_for(quiet, now);
  }

  ~session() override;

  void on_ready(unsigned tag, std::uint32_t events) override;
  void on_resume() override;
  void on_deadline() override;

 private:
  /// One connection of the session, as the event loop last reported it.
  struct leg {
    int fd = -1;
    bool readable = false;
    bool writable = false;
    bool peer_done = false;  ///< the peer has shut down or failed: read on until EOF or error
    bool midway = false;     ///< the last read filled its buffer: it may have ended inside a segment
  };

  /// One direction of the byte pump.
  struct pump {
    leg* from = nullptr;
    leg* to = nullptr;
    std::unique_ptr<char[]> backlog;   ///< bytes read but not yet written; null when empty
    std::unique_ptr<splice_pipe> pipe; ///< bulk: moves by splice, and holds what is unwritten
    std::uint64_t unflushed_bytes = 0; ///< bytes moved since the last counter flush
    std::uint32_t backlog_offset = 0;
    std::uint32_t backlog_size = 0;
    std::uint32_t backlog_capacity = 0;  ///< bytes `backlog` has room for
    bool finished = false;             ///< EOF read and passed on as a half-close
    bool last_read_full = false;       ///< bulk: the last read filled what it asked for
  };

  /// The sockmap path: a session's state while its legs are in the sockhash. Allocated on
  /// joining, so the sessions that never join (most of them) pay one pointer for it.
  struct kernel_state {
    /// One direction: the state it shares with the program, and what the pump knows of it.
    struct direction {
      cplb_leg* shared = nullptr;          ///< null: this leg is not in the sockhash
      std::uint64_t written_base = 0;      ///< bytes ever written into `to` when it went in
      std::uint64_t redirect_counted = 0;  ///< bytes the kernel moved that the counters have
      std::uint64_t redirect_drained = 0;  ///< bytes the kernel moved known to be in `to`'s queue
      std::uint64_t consumed = 0;          ///< bytes left on `from` that the pump has passed on or dropped
      std::uint64_t repeated = 0;          ///< of them, those dropped as repeated (never written)
      std::uint64_t repeats_done = 0;      ///< repeats the program posted that the pump has dropped
      std::uint64_t passed_read = 0;       ///< bytes left on `from` that the pump has read
      bool redirect_stopped = false;       ///< the kernel moves none of it any more
      bool end_read = false;               ///< EOF read, to pass on once everything before it has
    };
    direction up;    ///< client -> server
    direction down;  ///< server -> client
    std::uint32_t pair = 0;             ///< the pair of slots of the legs
    std::uint64_t cookies[2] = {0, 0};  ///< and the legs' socket cookies
    /// How long until a session waiting for the kernel's bytes to reach a leg looks again: a
    /// millisecond, doubling while it waits (a slow reader), as the leg's room also wakes it.
    std::chrono::milliseconds pending_retry{1};
  };

  /// The client has spoken: connect upstream (unless it only closed).
  void first_bytes();
  void connect_next();
  /// The connect ended with `error` (0: connected).
  void on_connect_done(int error);
  void on_connected();
  /// The connect failed; `servers_fault` unless the error was local (no port, memory, fd).
  void connect_failed(backend::down_reason why, bool servers_fault);

  /// Moves what it can both ways; false when the session ended.
  bool pump_both();
  /// Moves what it can in one direction; false when the session ended.
  bool pump_one(pump& p);
  /// Sends what `p.to` takes of `data` (marking it unwritable when full): the count sent, or -1
  /// once a send error has ended the session.
  std::ptrdiff_t send_some(pump& p, const char* data, std::size_t size);
  /// Writes `p.backlog` out while the other leg takes it; false when the session ended.
  bool flush_backlog(pump& p);
  /// Moves bytes from `p.from` to `p.to` until one would block; false when the session ended.
  bool transfer(pump& p);
  /// transfer for a bulk direction, through its pipe.
  bool transfer_spliced(pump& p);
  /// Writes what the pipe of `p` holds while the other leg takes it; false when the session ended.
  bool drain_pipe(pump& p);
  /// Closes the pipe of `p` once it is empty: the direction copies again.
  void end_splice(pump& p);
  /// `p` read its end of stream: passes the half-close on, or ends the session once both
  /// directions have. False when the session ended.
  bool end_of_stream(pump& p);
  /// True when `p` holds bytes the other leg has not taken: a backlog or a pipe's.
  static bool holds_bytes(const pump& p) { return p.backlog || (p.pipe && p.pipe->held() > 0); }
  /// Past over max_buffer_memory with the other leg of `p` behind: reading waits (true).
  bool stall_for_memory(pump& p);
  /// How much the next read of `p` may take: the whole scratch buffer, unless `p.to` is behind.
  std::size_t read_size(const pump& p) const;
  /// Bytes `l`'s socket has not sent yet (SIOCOUTQ).
  static int unsent(const leg& l);
  /// Drops the backlog and the pipe of `p`, returning their bytes to the buffer account.
  void drop_backlog(pump& p);
  void flush_counters(pump& p);

  /// `p`'s state in the sockhash, or null while it has none: the session is not in it, or only
  /// the client's leg is and `p` is the server's direction.
  kernel_state::direction* in_kernel(const pump& p) {
    if (!kernel_) return nullptr;
    auto& d = &p == &upstream_pump_ ? kernel_->up : kernel_->down;
    return d.shared ? &d : nullptr;
  }
  /// transfer for a direction in the sockhash: moves what the program left on `p.from`, after
  /// what the kernel moved before it; false when the session ended.
  bool transfer_passed(pump& p, kernel_state::direction& d);
  /// Adds `size` bytes to the backlog of `p`.
  void append_backlog(pump& p, const char* data, std::size_t size);
  /// The sockmap path, once a direction is bulk and a read drained its socket: puts both legs
  /// in the sockhash, unless either direction holds bytes or a leg's last read filled its buffer.
  void enter_sockmap();
  /// resume: takes up the legs' place in the sockmap the session was handed over in.
  bool resume_in_sockmap(const handed_session& handed);
  /// Counts what the kernel moved for `p` since last looked: bytes and activity.
  void count_redirected(pump& p);
  /// True while bytes the kernel moved for `p` may not have reached `p.to`'s queue yet: nothing
  /// may be written or shut down behind them. Looks again shortly.
  bool redirect_pending(pump& p);
  /// The pump passed on `bytes` more that were left on `p.from`.
  void consumed(pump& p, std::size_t bytes);
  /// The pump dropped `bytes` more of what was left on `p.from` as repeated (drop_repeats).
  void count_repeated(kernel_state::direction& d, std::size_t bytes);
  /// Bytes the pump wrote into the other leg since `d` went in.
  static std::uint64_t pump_written(const kernel_state::direction& d) { return d.consumed - d.repeated; }
  /// Lets the kernel move `p`'s bytes again, up to a credit past what has reached `p.to`.
  void renew_credit(pump& p);
  /// Stops the kernel moving `p`'s bytes: from now on they are left for the pump.
  void stop_redirect(pump& p);
  /// Waits for any program run on `l`'s socket to end (it holds the socket's lock).
  static void lock_step(const leg& l);
  /// Has the session look again (pump both ways) `after` from now.
  void retry_soon(std::chrono::milliseconds after);
  /// Closes both legs (leaving the sockhash with them) and gives the slot pair back.
  void close_legs(bool reset);
  /// hand_over: puts the session's place in the sockmap into `out`, and forgets it here.
  void hand_over_sockmap(handed_session& out);
  /// Gives the credit of a session in the sockhash back to max_buffer_memory.
  void release_credit();

  /// When the pumping session must next wake: idle or drain deadline, whichever is first.
  std::chrono::steady_clock::time_point pumping_deadline() const;

  bool close_deadline_set() const { return close_deadline_ != std::chrono::steady_clock::time_point::max(); }
  /// Takes the session's count off its server (once).
  void release_server();
  /// Rebalancing: stops taking from the server and starts leaving (see rebalance_at).
  void begin_leaving();
  /// Rebalancing: flushes what is left for the client, then FIN, then waits for the client's EOF.
  void continue_leaving();

  /// Ends the session: closes both legs, counts `why` and hands it to the loop to free.
  void finish(end_reason why, bool reset = false);
  /// The part of ending shared with hand_over: gives back the session's slots and counts, and
  /// hands it to the loop to free. The descriptors are closed or handed over already.
  void leave();
  /// Keeps `bytes` as the backlog of `p` (resume).
  void restore_backlog(pump& p, const std::string& bytes);

  session_host& host_;
  leg client_;
  leg upstream_;
  loop_timer timer_{*this};
  generation::snapshot_ptr generation_;  ///< keeps `frontend_` alive across reloads
  const generation::frontend& frontend_;
  backend::server_ptr server_;
  backend::server_mask tried_ = 0;
  unsigned attempts_left_;
  std::uint64_t client_key_;
  std::chrono::steady_clock::time_point started_at_;
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point close_deadline_ = std::chrono::steady_clock::time_point::max();
  /// max_buffer_memory is reached: reading waits until then (polled, as memory frees elsewhere).
  std::chrono::steady_clock::time_point stalled_until_ = std::chrono::steady_clock::time_point::min();
  end_reason close_reason_ = end_reason::drained;  ///< what close_deadline_ is for
  client_activity client_activity_;
  pump upstream_pump_;    ///< client -> server
  pump downstream_pump_;  ///< server -> client
  bool client_finished_first_ = false;  ///< the client's EOF came before the server's
  bool last_failure_local_ = false;     ///< the last connect failed for a local reason
  bool connecting_ = false;
  bool awaiting_first_bytes_;     ///< first_data_timeout: no upstream before the client speaks
  bool source_counted_;
  bool counted_ = false;          ///< the session counts on server_ (from the pick on)
  bool leaving_ = false;          ///< rebalancing: the server's leg is closed
  bool client_fin_sent_ = false;  ///< rebalancing: the client has been sent a FIN
  bool resume_queued_ = false;
  bool closing_ = false;
  bool join_kernel_ = false;          ///< a direction turned bulk: join the sockhash when drained
  bool kernel_refused_ = false;       ///< the sockhash had no room (or was lent): bulk moves by splice
  std::unique_ptr<kernel_state> kernel_;  ///< the sockmap path: null until the session joins
};

}  // namespace cplb::proxy
