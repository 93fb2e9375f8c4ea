#include "event_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>

#include "cplb/core/log.hpp"

namespace cplb::proxy {

namespace {

/// Events taken per epoll_wait; more are left for the next turn.
constexpr int batch_size = 256;

// The tag travels in the low bit of the target's address; 0 stands for the wake-up eventfd.
static_assert(alignof(loop_target) >= 2);
constexpr std::uint64_t wake_token = 0;

int checked(int fd, const char* what) {
  if (fd < 0) throw std::system_error(errno, std::generic_category(), what);
  return fd;
}

}  // namespace

event_loop::event_loop(const cplb::clock* time)
    : time_(time),
      epoll_fd_(checked(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      now_(read_clock()) {
  if (wake_fd_ < 0) {
    const int error = errno;
    ::close(epoll_fd_);
    throw std::system_error(error, std::generic_category(), "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = wake_token;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    const int error = errno;
    ::close(wake_fd_);
    ::close(epoll_fd_);
    throw std::system_error(error, std::generic_category(), "epoll_ctl");
  }
}

event_loop::~event_loop() {
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void event_loop::run() {
  while (!stopped_) turn(next_timeout_ms());
}

void event_loop::run_once(std::chrono::milliseconds wait) {
  const int due = next_timeout_ms();
  const auto limit = static_cast<int>(wait.count());
  turn(due < 0 ? limit : std::min(due, limit));
}

void event_loop::turn(int timeout_ms) {
  std::array<epoll_event, batch_size> events;
  const int n = ::epoll_wait(epoll_fd_, events.data(), batch_size, timeout_ms);
  now_ = read_clock();
  if (n < 0 && errno != EINTR) {
    // Only a broken epoll descriptor fails here. A worker that stopped would leave its share
    // of connections unserved and stop_accepting waiting: better to exit for the supervisor.
    log::error("epoll_wait failed: exiting", {{"error", std::strerror(errno)}});
    std::abort();
  }
  for (int i = 0; i < n; ++i) {
    const auto& ev = events[static_cast<std::size_t>(i)];
    if (ev.data.u64 == wake_token) {
      std::uint64_t count;
      [[maybe_unused]] const auto ignored = ::read(wake_fd_, &count, sizeof count);
      continue;
    }
    auto* target = reinterpret_cast<loop_target*>(ev.data.u64 & ~std::uint64_t{1});
    target->on_ready(static_cast<unsigned>(ev.data.u64 & 1u), ev.events);
  }
  run_again();
  run_posted();
  run_due_timers();
  retired_.clear();  // no event of this turn can name them any more
}

int event_loop::next_timeout_ms() const {
  if (!again_.empty()) return 0;
  const auto* earliest = timers_.earliest();
  if (!earliest) return -1;
  const auto left = earliest->expiry() - read_clock();
  if (left <= clock::duration::zero()) return 0;
  // Rounded up, so a timer never fires early and the loop never spins on a sub-millisecond rest.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<std::int64_t>(ms, 24 * 3600 * 1000));
}

void event_loop::post(std::function<void()> work) {
  bool wake = false;
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(work));
    wake = !std::exchange(wake_pending_, true);
  }
  if (wake) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto ignored = ::write(wake_fd_, &one, sizeof one);
  }
}

void event_loop::run_posted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(posted_mutex_);
    work.swap(posted_);
    wake_pending_ = false;
  }
  for (auto& w : work) w();
}

bool event_loop::watch(int fd, loop_target& target, unsigned tag) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = reinterpret_cast<std::uintptr_t>(&target) | (tag & 1u);
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void event_loop::unwatch(int fd) { ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void event_loop::again(loop_target& target) { again_.push_back(&target); }

void event_loop::forget(loop_target& target) {
  std::erase(again_, &target);
  std::replace(resuming_.begin(), resuming_.end(), &target, static_cast<loop_target*>(nullptr));
}

void event_loop::retire(std::unique_ptr<loop_target> target) { retired_.push_back(std::move(target)); }

void event_loop::run_again() {
  resuming_.swap(again_);
  for (std::size_t i = 0; i < resuming_.size(); ++i)
    if (resuming_[i]) resuming_[i]->on_resume();
  resuming_.clear();
}

void event_loop::run_due_timers() {
  while (auto* due = timers_.pop_due(now_)) static_cast<loop_timer*>(due)->owner_.on_deadline();
}

}  // namespace cplb::proxy
