#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <sys/types.h>

namespace cplb::proxy {

class pipe_budget;

/// A kernel pipe that one direction of a bulk session moves its bytes through with splice(2):
/// socket to pipe, pipe to socket, so the payload is never copied into user space (the pipe
/// holds references to the received pages). The pipe is the direction's buffer: what the other
/// leg cannot take yet stays in it, up to its capacity. Closing it drops what it holds and
/// gives its place in the budget back.
class splice_pipe {
 public:
  splice_pipe(const splice_pipe&) = delete;
  splice_pipe& operator=(const splice_pipe&) = delete;
  ~splice_pipe();

  /// Moves up to `max` bytes (at most the capacity) from socket `from` into the pipe, which
  /// must be empty (a direction drains it before it reads on): the count, 0 at the end of
  /// stream, or -1 with errno (EAGAIN: nothing to read).
  ssize_t fill(int from, std::size_t max);
  /// Moves what the pipe holds to socket `to`: the count, or -1 with errno (EAGAIN: `to` full).
  ssize_t drain(int to);
  /// Takes out what the pipe holds, into user space (binary upgrade hands it on as bytes).
  std::string take_all();

  std::size_t held() const { return held_; }
  std::size_t capacity() const { return capacity_; }

 private:
  friend class pipe_budget;
  splice_pipe(pipe_budget& budget, int read_end, int write_end, std::size_t capacity)
      : budget_(budget), read_end_(read_end), write_end_(write_end), capacity_(capacity) {}

  pipe_budget& budget_;
  int read_end_;
  int write_end_;
  std::size_t capacity_;
  std::size_t held_ = 0;
};

/// How many pipes the bulk directions of every worker may hold at once: their descriptors come
/// out of the open-files budget (fd_budget::bulk_pipes). Safe from any thread.
class pipe_budget {
 public:
  /// Pipes of `capacity` bytes, at most `limit` at once.
  explicit pipe_budget(std::size_t capacity, std::size_t limit = 0) : capacity_(capacity), limit_(limit) {}

  /// A new, empty pipe, or null when the budget is used up or none can be made (out of
  /// descriptors, or over the user's pipe quota): the direction then copies.
  std::unique_ptr<splice_pipe> take();
  void set_limit(std::size_t limit) { limit_.store(limit, std::memory_order_relaxed); }
  std::size_t limit() const { return limit_.load(std::memory_order_relaxed); }
  /// Pipes open now.
  std::size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  friend class splice_pipe;
  void release() { in_use_.fetch_sub(1, std::memory_order_relaxed); }

  std::size_t capacity_;
  std::atomic<std::size_t> limit_;
  std::atomic<std::size_t> in_use_{0};
};

}  // namespace cplb::proxy
