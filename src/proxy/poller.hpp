#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstdint>
#include <vector>

namespace cplb::proxy {

/// Something that owns descriptors the poller watches.
class poll_target {
 public:
  /// The descriptor registered with `tag` is ready: `events` is an EPOLL* mask.
  virtual void on_ready(unsigned tag, std::uint32_t events) = 0;
  /// The turn asked for with poller::again has come.
  virtual void on_resume() = 0;

 protected:
  ~poll_target() = default;
};

/// A worker's edge-triggered epoll set for its data-path descriptors, nested in its io_context.
///
/// Why not Asio's own reactor: Boost 1.74 issues an EPOLL_CTL_MOD for every async_wait and an
/// EPOLL_CTL_DEL for every close, about nine epoll_ctl calls per proxied connection. Here each
/// descriptor is added once, for input and output, edge-triggered, and leaves the set when it is
/// closed: two epoll_ctl calls per connection. The io_context waits on the set's own descriptor
/// once per batch of events, so timers and posted work still run on the same thread.
///
/// Edge-triggered means a target hears of readiness once: it must read (or write) until EAGAIN,
/// or remember that it stopped early and ask for another turn with `again`.
///
/// Close is what unregisters a descriptor, which holds only while no other process or dup()
/// shares it: cplb never forks, and every descriptor is opened with CLOEXEC. A target may be
/// freed only outside `on_ready` and `on_resume` of the batch that closed it (sessions free
/// themselves from a timer completion), because later events of that batch may still name it.
class poller {
 public:
  explicit poller(boost::asio::io_context& context);
  poller(const poller&) = delete;
  poller& operator=(const poller&) = delete;
  ~poller();

  /// Starts reporting events.
  void start();
  /// Stops reporting events; pending ones are dropped.
  void stop();

  /// Watches `fd` for input, output and peer shutdown until it is closed or forgotten. `tag` (0
  /// or 1) tells the target which of its descriptors is ready. False, with errno, on failure.
  bool watch(int fd, poll_target& target, unsigned tag);
  /// Stops watching `fd` before it is closed (for descriptors another owner may share).
  void unwatch(int fd);

  /// Gives `target` another turn after the events already pending (it stopped early to be fair).
  void again(poll_target& target);
  /// Drops `target` from the turns asked for with `again` (it is going away).
  void forget(poll_target& target);

 private:
  void wait();
  void run_batch();

  int epoll_fd_;
  boost::asio::posix::stream_descriptor descriptor_;
  std::vector<poll_target*> again_;
  std::vector<poll_target*> resuming_;
  bool stopped_ = false;
};

}  // namespace cplb::proxy
