#include "splice_pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>

namespace cplb::proxy {

splice_pipe::~splice_pipe() {
  ::close(read_end_);
  ::close(write_end_);
  budget_.release();
}

ssize_t splice_pipe::fill(int from, std::size_t max) {
  assert(held_ == 0);
  const ssize_t n = ::splice(from, nullptr, write_end_, nullptr, max < capacity_ ? max : capacity_,
                             SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) held_ = static_cast<std::size_t>(n);
  return n;
}

ssize_t splice_pipe::drain(int to) {
  const ssize_t n = ::splice(read_end_, nullptr, to, nullptr, held_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) held_ -= static_cast<std::size_t>(n);
  return n;
}

std::string splice_pipe::take_all() {
  std::string out(held_, '\0');
  std::size_t at = 0;
  while (at < out.size()) {
    const ssize_t n = ::read(read_end_, out.data() + at, out.size() - at);
    if (n > 0) at += static_cast<std::size_t>(n);
    else if (n < 0 && errno == EINTR) continue;
    else break;  // cannot happen with the bytes counted in held_
  }
  out.resize(at);
  held_ = 0;
  return out;
}

std::unique_ptr<splice_pipe> pipe_budget::take() {
  // The place is counted before the check, so two workers cannot both take the last one; it is
  // given back on every way out but a new pipe, which gives it back when it closes.
  const std::size_t taken = in_use_.fetch_add(1, std::memory_order_relaxed);
  struct place_guard {
    pipe_budget& budget;
    bool kept = false;
    ~place_guard() {
      if (!kept) budget.release();
    }
  } place{*this};
  if (taken >= limit()) return nullptr;
  int ends[2];
  if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) != 0) return nullptr;
  // The kernel rounds up to a power of two pages; over the user's pipe quota it refuses, and
  // the pipe keeps its default size (16 pages).
  const int size = ::fcntl(ends[1], F_SETPIPE_SZ, static_cast<int>(capacity_));
  const int actual = size > 0 ? size : ::fcntl(ends[1], F_GETPIPE_SZ);
  if (actual <= 0) {
    ::close(ends[0]);
    ::close(ends[1]);
    return nullptr;
  }
  place.kept = true;
  return std::unique_ptr<splice_pipe>(new splice_pipe(*this, ends[0], ends[1], static_cast<std::size_t>(actual)));
}

}  // namespace cplb::proxy
