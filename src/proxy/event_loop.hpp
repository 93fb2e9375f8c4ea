#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "cplb/core/clock.hpp"
#include "timer_heap.hpp"

namespace cplb::proxy {

/// Something that owns descriptors, a deadline or both in an event_loop.
class loop_target {
 public:
  virtual ~loop_target() = default;
  /// The descriptor watched with `tag` is ready: `events` is an EPOLL* mask.
  virtual void on_ready(unsigned tag, std::uint32_t events) = 0;
  /// The turn asked for with event_loop::again has come.
  virtual void on_resume() {}
  /// Its loop_timer is due.
  virtual void on_deadline() {}
};

/// A deadline of a loop_target in its event_loop.
class loop_timer : public heap_timer {
 public:
  explicit loop_timer(loop_target& owner) : owner_(owner) {}

 private:
  friend class event_loop;
  loop_target& owner_;
};

/// One worker thread's event loop: an edge-triggered epoll set, deadlines and a queue of work
/// posted from other threads. Everything but `post` runs on the loop's own thread.
///
/// Why not Asio here: Boost 1.74's reactor issues an EPOLL_CTL_MOD for every async_wait and an
/// EPOLL_CTL_DEL for every close, and wakes through a second epoll_wait and a timerfd: about
/// thirteen epoll and timer calls per proxied connection. Here each descriptor is added once,
/// for input and output, edge-triggered, and leaves the set when it is closed; deadlines are a
/// heap that sets epoll_wait's timeout. That is two epoll_ctl and about one epoll_wait per
/// connection, and no per-wait allocation.
///
/// Edge-triggered means a target hears of readiness once: it must read (or write) until EAGAIN,
/// or remember that it stopped early and ask for another turn with `again`.
///
/// Close is what unregisters a descriptor, which holds while no other process or dup() shares
/// it: cplb never forks, and opens every descriptor with CLOEXEC. Targets that end while a batch
/// of events may still name them are handed to `retire`, which frees them once the turn is over.
class event_loop {
 public:
  using clock = std::chrono::steady_clock;

  /// A loop on the steady clock, or on `time` (tests drive deadlines with a fake clock).
  explicit event_loop(const cplb::clock* time = nullptr);
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;
  ~event_loop();

  /// Runs until `stop` is called (by the loop's own thread, usually from posted work).
  void run();
  /// Runs one turn: waits at most `wait` (less when a deadline is due sooner) for events, then
  /// dispatches them, the turns asked for with `again`, posted work and due deadlines.
  void run_once(std::chrono::milliseconds wait);
  /// Makes `run` return after the current turn.
  void stop() { stopped_ = true; }
  /// Queues `work` to run on the loop's thread. Safe from any thread.
  void post(std::function<void()> work);

  /// Watches `fd` for input, output and peer shutdown until it is closed. `tag` (0 or 1) tells
  /// the target which of its descriptors is ready. False, with errno, on error.
  bool watch(int fd, loop_target& target, unsigned tag);
  /// Stops watching `fd` while it stays open: epoll would report it for as long as any copy of
  /// the descriptor is open, in this process or another (one handed over at an upgrade).
  void unwatch(int fd);

  /// Gives `target` another turn after the events already pending (it stopped early to be fair).
  void again(loop_target& target);
  /// Drops `target` from the turns asked for with `again`.
  void forget(loop_target& target);
  /// Frees `target` once the current turn is over.
  void retire(std::unique_ptr<loop_target> target);

  /// Arms (or moves) `timer` for `at`.
  void schedule(loop_timer& timer, clock::time_point at) { timers_.schedule(timer, at); }
  /// Disarms `timer`.
  void cancel(loop_timer& timer) { timers_.cancel(timer); }
  /// The time this turn started: cheaper than asking the clock for every read.
  clock::time_point now() const { return now_; }

 private:
  clock::time_point read_clock() const { return time_ ? time_->now() : clock::now(); }
  int next_timeout_ms() const;
  void turn(int timeout_ms);
  void run_posted();
  void run_again();
  void run_due_timers();

  const cplb::clock* time_;
  int epoll_fd_;
  int wake_fd_;  ///< eventfd that `post` writes to
  bool stopped_ = false;
  clock::time_point now_;
  timer_heap timers_;
  std::vector<loop_target*> again_;
  std::vector<loop_target*> resuming_;
  std::vector<std::unique_ptr<loop_target>> retired_;

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;  ///< guarded by posted_mutex_
  bool wake_pending_ = false;                  ///< guarded by posted_mutex_
};

}  // namespace cplb::proxy
