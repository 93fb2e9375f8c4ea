#include "poller.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace cplb::proxy {

namespace asio = boost::asio;

namespace {

/// Events taken from the set per wakeup; more wait for the next turn of the io_context.
constexpr int batch_size = 256;

// The tag travels in the low bit of the target's address.
static_assert(alignof(poll_target) >= 2);

int create_epoll() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  return fd;
}

}  // namespace

poller::poller(asio::io_context& context) : epoll_fd_(create_epoll()), descriptor_(context, epoll_fd_) {}

poller::~poller() = default;  // the descriptor closes the epoll set

void poller::start() {
  stopped_ = false;
  wait();
}

void poller::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  descriptor_.cancel(ignored);
  again_.clear();
}

bool poller::watch(int fd, poll_target& target, unsigned tag) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = reinterpret_cast<std::uintptr_t>(&target) | (tag & 1u);
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void poller::unwatch(int fd) { ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void poller::again(poll_target& target) { again_.push_back(&target); }

void poller::forget(poll_target& target) {
  std::erase(again_, &target);
  std::replace(resuming_.begin(), resuming_.end(), &target, static_cast<poll_target*>(nullptr));
}

void poller::wait() {
  descriptor_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    run_batch();
  });
}

void poller::run_batch() {
  std::array<epoll_event, batch_size> events;
  const int n = ::epoll_wait(epoll_fd_, events.data(), batch_size, 0);
  for (int i = 0; i < n; ++i) {
    const auto data = events[static_cast<std::size_t>(i)].data.u64;
    auto* target = reinterpret_cast<poll_target*>(data & ~std::uint64_t{1});
    target->on_ready(static_cast<unsigned>(data & 1u), events[static_cast<std::size_t>(i)].events);
  }
  // Targets that stopped early in the last batch go after this batch's events.
  resuming_.swap(again_);
  for (std::size_t i = 0; i < resuming_.size(); ++i)
    if (resuming_[i]) resuming_[i]->on_resume();
  resuming_.clear();

  if (again_.empty()) return wait();
  // More turns are owed: come back once the io_context has run what else is queued.
  asio::post(descriptor_.get_executor(), [this] {
    if (!stopped_) run_batch();
  });
}

}  // namespace cplb::proxy
