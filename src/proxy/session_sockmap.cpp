// The session's part on the sockmap data path (global.data_path: sockmap; docs/design.md, "The
// sockmap path"): joining the sockhash, moving what the verdict program leaves on a socket after
// what it moved before, and the credit it moves within.
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <tuple>

#include "bpf/session_redirect.h"
#include "cplb/core/log.hpp"
#include "pump_limits.hpp"
#include "repeated_bytes.hpp"
#include "session.hpp"
#include "sockmap_path.hpp"

namespace cplb::proxy {

using steady = std::chrono::steady_clock;

using namespace pump_limits;

namespace {

/// What the kernel may move for a direction beyond what has reached the other leg's send queue,
/// held against max_buffer_memory while the session is in the sockhash.
constexpr std::uint64_t redirect_credit = 1 << 20;

/// A field of the state a session shares with the program (bpf/session_redirect.h).
__u64 shared_load(__u64& field) { return std::atomic_ref(field).load(std::memory_order_acquire); }
void shared_store(__u64& field, __u64 value) { std::atomic_ref(field).store(value, std::memory_order_release); }

/// Bytes ever written into `fd`'s send queue: those its peer acknowledged and those still queued.
std::uint64_t written(int fd) {
  tcp_info info{};
  socklen_t size = sizeof info;
  int queued = 0;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0 || ::ioctl(fd, SIOCOUTQ, &queued) != 0)
    return 0;
  return info.tcpi_bytes_acked + static_cast<std::uint64_t>(queued);
}

}  // namespace

bool session::transfer_passed(pump& p, kernel_state::direction& d) {
  count_redirected(p);
  const auto scratch = host_.scratch();
  // Reads on while what the kernel moved has not reached the other leg yet, up to a credit's
  // worth held; then TCP holds the sender back. Beyond it too while the other direction has
  // bytes on their way to this socket that its peer could take: the kernel queues this socket's
  // own segments behind those once it has begun to, and the two directions would wait for each
  // other.
  pump& other = &p == &upstream_pump_ ? downstream_pump_ : upstream_pump_;
  const auto may_read = [&] {
    if (p.backlog_size < redirect_credit) return !stall_for_memory(p);
    return unsent(*p.from) < behind_queue && redirect_pending(other);
  };
  for (std::size_t moved = 0;;) {
    // What is held goes first, once what the kernel moved before it has arrived.
    if (p.backlog && p.to->writable && !redirect_pending(p) && !flush_backlog(p)) return false;
    if (p.finished || d.end_read || !p.from->readable || !may_read()) break;
    if (moved >= bytes_per_turn) {
      if (!resume_queued_) {
        resume_queued_ = true;
        host_.loop().again(*this);
      }
      break;
    }
    const auto n = ::recv(p.from->fd, scratch.data(), scratch.size(), MSG_DONTWAIT);
    if (n == 0) {
      // The FIN can be reported while segments the kernel left on the socket are still queued
      // on their way to it: the end is the end only once every one of them has been read.
      if (shared_load(d.shared->passed) > d.passed_read) {
        retry_soon(std::chrono::milliseconds{1});
        break;
      }
      d.end_read = true;
      break;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        p.from->readable = false;
        break;
      }
      finish(&p == &upstream_pump_ ? end_reason::client_error : end_reason::server_error, true);
      return false;
    }
    if (shared_load(d.shared->overflowed)) {
      log::warn("a kernel session lost count of repeated bytes: reset", {{"backend", frontend_.backend->name()}});
      finish(end_reason::local_error, true);
      return false;
    }
    moved += static_cast<std::size_t>(n);
    const auto size = drop_repeats(*d.shared, d.repeats_done, d.passed_read, scratch.data(), static_cast<std::size_t>(n));
    count_repeated(d, static_cast<std::size_t>(n) - size);
    d.passed_read += static_cast<std::size_t>(n);
    count_redirected(p);  // what the kernel moved before these bytes comes first, for the activity
    last_activity_ = host_.loop().now();
    if (&p == &upstream_pump_)
      client_activity_.on_bytes({scratch.data(), size}, last_activity_, frontend_.backend->config().rebalance.quiet);
    p.unflushed_bytes += size;
    if (p.unflushed_bytes >= counter_flush_bytes) flush_counters(p);
    std::size_t sent = 0;
    if (!p.backlog && p.to->writable && !redirect_pending(p)) {
      const auto n_sent = send_some(p, scratch.data(), size);
      if (n_sent < 0) return false;
      sent = static_cast<std::size_t>(n_sent);
      consumed(p, sent);
    }
    if (sent < size) append_backlog(p, scratch.data() + sent, size - sent);
  }
  // The end of stream passes on once everything before it has.
  if (d.end_read && !p.finished && !p.backlog && !redirect_pending(p)) return end_of_stream(p);
  renew_credit(p);
  return true;
}

void session::count_repeated(kernel_state::direction& d, std::size_t bytes) {
  // Dropped, they count as passed on for the program (`consumed`), but were never written.
  shared_store(d.shared->repeats_done, d.repeats_done);
  if (bytes == 0) return;
  d.repeated += bytes;
  shared_store(d.shared->repeated, d.repeated);
  d.consumed += bytes;
  shared_store(d.shared->consumed, d.consumed);
}

void session::lock_step(const leg& l) {
  // A program run on `l` that read the old credit may still be at work: it runs under the
  // socket's lock, which reading the socket's TCP state takes, so once this returns it is done.
  tcp_info info{};
  socklen_t size = sizeof info;
  ::getsockopt(l.fd, IPPROTO_TCP, TCP_INFO, &info, &size);
}

void session::retry_soon(std::chrono::milliseconds after) {
  const auto retry = host_.loop().now() + after;
  if (stalled_until_ == steady::time_point::min() || retry < stalled_until_) stalled_until_ = retry;
  if (stalled_until_ < timer_.expiry()) host_.loop().schedule(timer_, stalled_until_);
}

void session::append_backlog(pump& p, const char* data, std::size_t size) {
  const std::size_t needed = p.backlog_size + size;
  if (p.backlog_offset + needed > p.backlog_capacity) {
    if (needed <= p.backlog_capacity) {
      std::memmove(p.backlog.get(), p.backlog.get() + p.backlog_offset, p.backlog_size);
    } else {
      // Doubling: a backlog that grows read by read is copied a few times, not at every read.
      const auto capacity = std::max<std::size_t>(needed, 2 * std::size_t{p.backlog_capacity});
      auto grown = std::make_unique_for_overwrite<char[]>(capacity);
      if (p.backlog) std::memcpy(grown.get(), p.backlog.get() + p.backlog_offset, p.backlog_size);
      p.backlog = std::move(grown);
      p.backlog_capacity = static_cast<std::uint32_t>(capacity);
    }
    p.backlog_offset = 0;
  }
  std::memcpy(p.backlog.get() + p.backlog_offset + p.backlog_size, data, size);
  p.backlog_size += static_cast<std::uint32_t>(size);
  host_.buffers().hold(static_cast<std::int64_t>(size));
}

void session::enter_sockmap() {
  // Neither leg may be in the middle of a segment: the program judges whole segments, and would
  // pass on again the part of one already read. A leg whose last read was short (or EAGAIN) is
  // not. Else at the next drained read.
  if (leaving_ || upstream_.fd < 0 || holds_bytes(upstream_pump_) || holds_bytes(downstream_pump_) ||
      client_.midway || upstream_.midway)
    return;
  join_kernel_ = false;
  sockmap_path* path = host_.sockmap();
  const auto pair = host_.buffers().can_hold(2 * static_cast<std::int64_t>(redirect_credit))
                        ? path->take_pair()
                        : std::nullopt;
  if (!pair) {
    kernel_refused_ = true;  // by splice, then
    return;
  }
  const std::uint32_t first = *pair * 2;
  // Both legs go in with no credit: a segment redirected to a peer not in the sockhash yet would
  // be dropped, and one left on the socket is read as before.
  auto joined = std::make_unique<kernel_state>();
  joined->pair = *pair;
  for (auto [d, slot, to] : {std::tuple{&joined->up, first, &upstream_},
                             std::tuple{&joined->down, first + 1, &client_}}) {
    d->shared = &path->leg(slot);
    *d->shared = cplb_leg{};
    d->written_base = written(to->fd);
  }
  if (!path->insert(first, client_.fd, joined->cookies[0])) {
    path->free_pair(*pair);
    kernel_refused_ = true;
    return;
  }
  kernel_ = std::move(joined);
  if (!path->insert(first + 1, upstream_.fd, kernel_->cookies[1])) {
    // The client's leg is in for good (until it closes), with no credit: the pump moves
    // everything, as it counts what the program leaves on the socket.
    log::warn("cannot add a session to the sockmap", {{"error", std::strerror(errno)}});
    kernel_->down.shared = nullptr;
    kernel_->up.redirect_stopped = true;
    return;
  }
  host_.buffers().hold(2 * static_cast<std::int64_t>(redirect_credit));
  renew_credit(upstream_pump_);
  renew_credit(downstream_pump_);
  // Segments that arrived since the sockets were drained are judged by the program only at the
  // next one; setting the low-water mark judges them now, so the pump never reads a byte the
  // program has not counted.
  const int one = 1;
  for (leg* l : {&client_, &upstream_}) ::setsockopt(l->fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
  if (log::enabled(log::level::debug))
    log::debug("session moves in the kernel", {{"server", server_->name()}, {"pair", std::to_string(*pair)}});
}

bool session::resume_in_sockmap(const handed_session& handed) {
  sockmap_path* path = host_.sockmap();
  if (!path || upstream_.fd < 0 || handed.sockmap_pair >= path->pairs()) return false;
  kernel_ = std::make_unique<kernel_state>();
  kernel_->pair = static_cast<std::uint32_t>(handed.sockmap_pair);
  path->claim(kernel_->pair);
  const auto first = kernel_->pair * 2;
  int i = 0;
  for (auto [p, d, l] : {std::tuple{&upstream_pump_, &kernel_->up, &client_},
                         std::tuple{&downstream_pump_, &kernel_->down, &upstream_}}) {
    d->shared = &path->leg(first + static_cast<std::uint32_t>(i));
    d->written_base = handed.written_base[i];
    d->redirect_counted = handed.redirect_counted[i];
    d->consumed = shared_load(d->shared->consumed);
    d->repeated = shared_load(d->shared->repeated);
    d->repeats_done = shared_load(d->shared->repeats_done);
    d->passed_read = d->consumed + p->backlog_size;  // what was read and not sent came as the backlog
    socklen_t size = sizeof kernel_->cookies[i];
    ::getsockopt(l->fd, SOL_SOCKET, SO_COOKIE, &kernel_->cookies[i], &size);
    ++i;
  }
  host_.buffers().hold(2 * static_cast<std::int64_t>(redirect_credit));
  return true;
}

void session::count_redirected(pump& p) {
  auto* d = in_kernel(p);
  if (!d) return;
  const auto moved = shared_load(d->shared->redirected);
  if (moved == d->redirect_counted) return;
  const auto n = moved - d->redirect_counted;
  d->redirect_counted = moved;
  last_activity_ = host_.loop().now();
  if (&p == &upstream_pump_)
    client_activity_.on_unseen(n, last_activity_, frontend_.backend->config().rebalance.quiet);
  p.unflushed_bytes += n;
  if (p.unflushed_bytes >= counter_flush_bytes) flush_counters(p);
}

bool session::redirect_pending(pump& p) {
  auto* d = in_kernel(p);
  if (!d) return false;
  const auto moved = shared_load(d->shared->redirected);
  if (moved == d->redirect_drained) return false;
  // What reached the other leg is what was written into it, less what the pump wrote itself.
  if (written(p.to->fd) - d->written_base - pump_written(*d) >= moved) {
    d->redirect_drained = moved;
    kernel_->pending_retry = std::chrono::milliseconds{1};
    return false;
  }
  retry_soon(kernel_->pending_retry);
  kernel_->pending_retry = std::min(2 * kernel_->pending_retry, std::chrono::milliseconds{32});
  return true;
}

void session::consumed(pump& p, std::size_t bytes) {
  auto* d = in_kernel(p);
  if (!d || bytes == 0) return;
  d->consumed += bytes;
  shared_store(d->shared->consumed, d->consumed);
}

void session::renew_credit(pump& p) {
  auto* d = in_kernel(p);
  if (!d || d->redirect_stopped || p.finished) return;
  const auto credit = shared_load(d->shared->credit);
  const auto moved = shared_load(d->shared->redirected);
  if (credit > moved && credit - moved >= redirect_credit / 2) return;  // plenty left
  const auto arrived = written(p.to->fd) - d->written_base - pump_written(*d);
  shared_store(d->shared->credit, std::max<__u64>(credit, arrived + redirect_credit));
}

void session::stop_redirect(pump& p) {
  auto* d = in_kernel(p);
  if (!d || d->redirect_stopped) return;
  d->redirect_stopped = true;
  shared_store(d->shared->credit, 0);
  lock_step(*p.from);  // so that its count is in
}

void session::hand_over_sockmap(handed_session& out) {
  if (!kernel_) return;
  // The legs stay in the sockhash, whose maps go to the next process: the pair is its now.
  out.sockmap_pair = kernel_->pair;
  for (auto [d, i] : {std::pair{&kernel_->up, 0}, std::pair{&kernel_->down, 1}}) {
    out.written_base[i] = d->written_base;
    out.redirect_counted[i] = d->redirect_counted;
  }
  release_credit();
  kernel_.reset();
}

void session::release_credit() {
  if (kernel_ && kernel_->down.shared)
    host_.buffers().release(2 * static_cast<std::int64_t>(redirect_credit));
}

}  // namespace cplb::proxy
