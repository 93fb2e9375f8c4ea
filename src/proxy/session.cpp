#include "session.hpp"

#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "cplb/core/log.hpp"
#include "pump_limits.hpp"
#include "sockmap_path.hpp"
#include "socket_options.hpp"

namespace cplb::proxy {

using steady = std::chrono::steady_clock;
using namespace pump_limits;

namespace {

/// How often a session stalled by max_buffer_memory looks again.
constexpr std::chrono::milliseconds stall_retry{10};

/// How long a session leaving to rebalance waits for its client to close after the FIN.
constexpr std::chrono::seconds leave_linger{2};

/// Poller tags of the two legs.
constexpr unsigned client_tag = 0;
constexpr unsigned upstream_tag = 1;

/// Closes `fd`, if open; with `reset` the peer sees a reset rather than a clean end.
void close_fd(int& fd, bool reset) {
  if (fd < 0) return;
  if (reset) {
    const linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
  fd = -1;
}

}  // namespace

session::session(session_host& host, int client_fd, generation::snapshot_ptr gen,
                 const generation::frontend& frontend, std::uint64_t client_key,
                 bool source_counted)
    : host_(host),
      generation_(std::move(gen)),
      frontend_(frontend),
      attempts_left_(frontend.config.retries + 1),
      client_key_(client_key),
      started_at_(host.loop().now()),
      last_activity_(started_at_),
      client_activity_(started_at_),
      awaiting_first_bytes_(frontend.config.first_data_timeout.count() > 0),
      source_counted_(source_counted) {
  client_.fd = client_fd;
  client_.writable = true;  // a fresh connection has room to send
  upstream_pump_.from = &client_;
  upstream_pump_.to = &upstream_;
  downstream_pump_.from = &upstream_;
  downstream_pump_.to = &client_;
  auto& counters = frontend_.stats->worker(host_.slot());
  add_owned(counters.active, std::int64_t{1});
  host_.session_started(*this);
}

session::~session() { host_.loop().cancel(timer_); }

void session::start() {
  // Watched from the start, so bytes the client sends while we connect are already known.
  if (!host_.loop().watch(client_.fd, *this, client_tag)) {
    log::warn("cannot watch client socket", {{"error", std::strerror(errno)}});
    return finish(end_reason::local_error, true);
  }
  // A silent client (a scanner, a flood) costs no apiserver connection: connect once it speaks.
  if (awaiting_first_bytes_)
    return host_.loop().schedule(timer_, started_at_ + frontend_.config.first_data_timeout);
  connect_next();
}

void session::first_bytes() {
  if (client_.peer_done) {
    // Readable may only mean the client left: look before connecting on its behalf.
    char byte;
    const auto n = ::recv(client_.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return finish(end_reason::client_closed);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return finish(end_reason::client_error, true);
  }
  awaiting_first_bytes_ = false;
  connect_next();
}

void session::connect_next() {
  const auto eligible = frontend_.backend->eligible(tried_);
  const int index = attempts_left_ == 0 ? -1 : host_.pick(*frontend_.backend, eligible, client_key_);
  if (index < 0) {
    if (tried_ == 0) {
      auto& counters = frontend_.stats->worker(host_.slot());
      add_owned(counters.rejected_no_server, std::uint64_t{1});
      return finish(end_reason::no_server, true);
    }
    return finish(last_failure_local_ ? end_reason::local_error : end_reason::connect_failed, true);
  }
  --attempts_left_;
  tried_ |= backend::server_mask{1} << index;
  server_ = frontend_.backend->servers()[static_cast<std::size_t>(index)];
  counted_ = true;  // the pick counted the session on the server

  std::string error;
  upstream_ = leg{};
  upstream_.fd = open_tcp_socket(server_->address().family(), error);
  if (upstream_.fd < 0 || !host_.loop().watch(upstream_.fd, *this, upstream_tag)) {
    // Out of descriptors or memory here is local trouble, not the server's fault.
    if (error.empty()) error = std::string("epoll: ") + std::strerror(errno);
    log::warn("cannot open upstream socket", {{"server", server_->name()}, {"error", error}});
    release_server();
    server_ = nullptr;
    return finish(end_reason::local_error, true);
  }
  apply_session_options(upstream_.fd, frontend_.config, true);
  connecting_ = true;
  host_.loop().schedule(timer_, host_.loop().now() + frontend_.config.connect_timeout);
  // Completion shows as the socket turning writable (or failing), reported by the event loop.
  if (::connect(upstream_.fd, server_->address().data(), server_->address().size()) == 0)
    return on_connect_done(0);
  if (errno != EINPROGRESS) on_connect_done(errno);
}

void session::on_connect_done(int error) {
  if (error == 0) return on_connected();
  switch (error) {
    // Out of ephemeral ports, buffers, memory or descriptors: this host's trouble, not the
    // server's. Blaming the server would let a connection flood mark healthy apiservers down
    // (and, through tracking, move the VIP).
    case EADDRNOTAVAIL: case ENOBUFS: case ENOMEM: case EMFILE: case ENFILE:
      return connect_failed(backend::down_reason::connect_failed, false);
    case ECONNREFUSED:
      return connect_failed(backend::down_reason::refused, true);
    default:
      return connect_failed(backend::down_reason::connect_failed, true);
  }
}

void session::on_connected() {
  connecting_ = false;
  upstream_.writable = true;
  auto& counters = server_->counters(host_.slot());
  add_owned(counters.connections, 1);
  last_activity_ = host_.loop().now();
  // The connect deadline's timer stays armed and moves to the idle deadline when it fires,
  // unless the idle (or drain) deadline comes first.
  if (pumping_deadline() < timer_.expiry()) host_.loop().schedule(timer_, pumping_deadline());
  // The client has usually sent its first bytes (a TLS ClientHello) while we connected: pass
  // them on now.
  pump_both();
}

void session::connect_failed(backend::down_reason why, bool servers_fault) {
  last_failure_local_ = !servers_fault;
  if (log::enabled(log::level::debug))
    log::debug("connect failed", {{"backend", frontend_.backend->name()},
                                  {"server", server_->name()},
                                  {"reason", servers_fault ? backend::to_string(why) : "local"}});
  if (servers_fault) {
    add_owned(server_->counters(host_.slot()).connect_failures, 1);
    host_.connect_failed(server_, why);
  }
  close_fd(upstream_.fd, false);
  connecting_ = false;
  release_server();
  server_ = nullptr;
  // A drain that found it connecting was for the server it leaves now, not the next one.
  close_deadline_ = steady::time_point::max();
  connect_next();
}

void session::on_ready(unsigned tag, std::uint32_t events) {
  leg& l = tag == client_tag ? client_ : upstream_;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) l.readable = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) l.writable = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) l.peer_done = true;
  if (closing_) return;
  if (leaving_) return continue_leaving();
  if (awaiting_first_bytes_) {
    if (tag == client_tag && client_.readable) first_bytes();
    return;
  }
  if (connecting_) {
    // The client's side waits until the upstream is there; its readiness is remembered.
    if (tag != upstream_tag || !upstream_.writable) return;
    // Writable without an error means connected; only a failure needs SO_ERROR for its reason.
    int error = 0;
    if (events & (EPOLLERR | EPOLLHUP)) {
      socklen_t size = sizeof error;
      if (::getsockopt(upstream_.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
      if (error == 0) error = ECONNRESET;  // hung up before it ever connected
    }
    on_connect_done(error);
    return;
  }
  pump_both();
}

void session::on_resume() {
  resume_queued_ = false;
  if (closing_ || connecting_) return;
  if (leaving_) return continue_leaving();
  pump_both();
}

bool session::pump_both() { return pump_one(upstream_pump_) && pump_one(downstream_pump_); }

bool session::pump_one(pump& p) {
  if (p.pipe) return transfer_spliced(p);
  if (auto* d = in_kernel(p)) return transfer_passed(p, *d);
  if (p.backlog) {
    if (!p.to->writable) return true;
    if (!flush_backlog(p)) return false;
    if (p.backlog) return true;
  }
  if (p.finished || !p.from->readable) return true;
  return transfer(p);
}

std::ptrdiff_t session::send_some(pump& p, const char* data, std::size_t size) {
  // Once the sender is done, these are its last bytes and the end of stream follows in this turn:
  // the kernel holds the last partial segment, and the shutdown puts the FIN on it and sends it,
  // one segment where there were two (an apiserver's last answer and its close, a request and
  // the client's half-close).
  const int flags = MSG_DONTWAIT | MSG_NOSIGNAL | (p.from->peer_done ? MSG_MORE : 0);
  std::size_t sent = 0;
  while (sent < size) {
    const auto n = ::send(p.to->fd, data + sent, size - sent, flags);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      p.to->writable = false;
      break;
    }
    finish(&p == &upstream_pump_ ? end_reason::server_error : end_reason::client_error, true);
    return -1;
  }
  return static_cast<std::ptrdiff_t>(sent);
}

bool session::flush_backlog(pump& p) {
  const auto sent = send_some(p, p.backlog.get() + p.backlog_offset, p.backlog_size);
  if (sent < 0) return false;
  if (sent > 0) last_activity_ = host_.loop().now();
  consumed(p, static_cast<std::size_t>(sent));
  host_.buffers().release(sent);
  p.backlog_offset += static_cast<std::uint32_t>(sent);
  p.backlog_size -= static_cast<std::uint32_t>(sent);
  if (p.backlog_size == 0) {
    p.backlog.reset();
    p.backlog_offset = 0;
    p.backlog_capacity = 0;
  }
  return true;
}

std::size_t session::read_size(const pump& p) const {
  const std::size_t full = host_.scratch().size();
  // Only a bulk direction pays the ioctl: small requests and answers never fill a read.
  if (!p.last_read_full) return std::min(full, opening_read);
  return unsent(*p.to) > behind_queue ? std::min(full, behind_read) : full;
}

int session::unsent(const leg& l) {
  int queued = 0;
  return ::ioctl(l.fd, SIOCOUTQ, &queued) == 0 ? queued : 0;
}

void session::drop_backlog(pump& p) {
  if (p.pipe) {
    host_.buffers().release(static_cast<std::int64_t>(p.pipe->held()));
    p.pipe.reset();
  }
  if (!p.backlog) return;
  host_.buffers().release(p.backlog_size);
  p.backlog.reset();
  p.backlog_size = 0;
  p.backlog_offset = 0;
  p.backlog_capacity = 0;
}

bool session::stall_for_memory(pump& p) {
  if (!host_.buffers().full() || unsent(*p.to) < static_cast<int>(behind_read)) return false;
  // Over max_buffer_memory, and what it read would wait here: read nothing new until the slow
  // peers have caught up.
  stalled_until_ = host_.loop().now() + stall_retry;
  if (stalled_until_ < timer_.expiry()) host_.loop().schedule(timer_, stalled_until_);
  return true;
}

bool session::end_of_stream(pump& p) {
  // Pass the half-close on, and end the session once both directions have (the close then says
  // all there is to say: no shutdown call needed).
  p.finished = true;
  flush_counters(p);
  if (upstream_pump_.finished && downstream_pump_.finished) {
    finish(client_finished_first_ ? end_reason::client_closed : end_reason::server_closed);
    return false;
  }
  client_finished_first_ = &p == &upstream_pump_;
  ::shutdown(p.to->fd, SHUT_WR);
  return true;
}

bool session::transfer(pump& p) {
  const auto scratch = host_.scratch();
  for (std::size_t moved = 0; moved < bytes_per_turn;) {
    if (stall_for_memory(p)) return true;
    const bool over_cap = host_.buffers().full();
    const std::size_t want = over_cap ? std::min(read_size(p), behind_read) : read_size(p);
    const auto n = ::recv(p.from->fd, scratch.data(), want, MSG_DONTWAIT);
    if (n == 0) return end_of_stream(p);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        p.from->readable = false;
        p.from->midway = false;
        if (join_kernel_) enter_sockmap();
        return true;
      }
      finish(&p == &upstream_pump_ ? end_reason::client_error : end_reason::server_error, true);
      return false;
    }
    last_activity_ = host_.loop().now();
    if (&p == &upstream_pump_)
      client_activity_.on_bytes({scratch.data(), static_cast<std::size_t>(n)}, last_activity_,
                                frontend_.backend->config().rebalance.quiet);
    moved += static_cast<std::size_t>(n);
    p.last_read_full = static_cast<std::size_t>(n) == want;
    p.from->midway = p.last_read_full;
    p.unflushed_bytes += static_cast<std::uint64_t>(n);
    if (p.unflushed_bytes >= counter_flush_bytes) flush_counters(p);

    const auto sent = send_some(p, scratch.data(), static_cast<std::size_t>(n));
    if (sent < 0) return false;
    if (sent < n) {
      // The other leg is full: keep the rest and stop reading this way until it drains.
      p.backlog_size = static_cast<std::uint32_t>(n - sent);
      p.backlog_offset = 0;
      p.backlog = std::make_unique_for_overwrite<char[]>(p.backlog_size);
      p.backlog_capacity = p.backlog_size;
      std::memcpy(p.backlog.get(), scratch.data() + sent, p.backlog_size);
      host_.buffers().hold(p.backlog_size);
      return true;
    }
    // A short read drained the socket: the next arrival raises a new edge, so skip the recv
    // that would only say EAGAIN. Not so once the peer is done: its EOF raises no new edge.
    if (static_cast<std::size_t>(n) < want && !p.from->peer_done) {
      p.from->readable = false;
      if (join_kernel_) enter_sockmap();
      return true;
    }
    // A full read of at least an opening read's size: bulk, which moves in the kernel from here
    // on: in the sockhash, which it joins once its socket is drained (the program must see whole
    // segments: a partly read one would be passed on again whole), or else by splice (unless
    // every pipe of the worker is in use).
    if (static_cast<std::size_t>(n) >= std::min(scratch.size(), opening_read) && !kernel_) {
      if (host_.sockmap() && !kernel_refused_) {
        join_kernel_ = true;
        continue;
      }
      if ((p.pipe = host_.pipes().take())) return transfer_spliced(p);
    }
  }
  // Turn used up with bytes still queued: let other sessions run, then carry on.
  if (!resume_queued_) {
    resume_queued_ = true;
    host_.loop().again(*this);
  }
  return true;
}

bool session::transfer_spliced(pump& p) {
  for (std::size_t moved = 0; moved < bytes_per_turn;) {
    if (p.pipe->held() > 0) {
      if (!p.to->writable) return true;
      if (!drain_pipe(p)) return false;
      if (p.pipe->held() > 0) return true;  // the other leg is full: read on once it drains
    }
    if (!p.from->readable) return true;
    if (stall_for_memory(p)) return true;
    // As in copying: while the other leg is behind, small fills, so a slow reader holds little.
    const bool behind = host_.buffers().full() || unsent(*p.to) > behind_queue;
    const std::size_t want = behind ? behind_read : p.pipe->capacity();
    const auto n = p.pipe->fill(p.from->fd, want);
    if (n == 0) {
      end_splice(p);
      return end_of_stream(p);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      // Only EAGAIN says the socket is drained: a short splice may only have used up the pipe's
      // slots (a page at most each), so it is followed by another.
      if (errno == EAGAIN) {
        p.from->readable = false;
        if (moved < behind_read) end_splice(p);  // the bulk is over: small reads copy again
        return true;
      }
      finish(&p == &upstream_pump_ ? end_reason::client_error : end_reason::server_error, true);
      return false;
    }
    host_.buffers().hold(n);
    last_activity_ = host_.loop().now();
    if (&p == &upstream_pump_)
      client_activity_.on_unseen(static_cast<std::size_t>(n), last_activity_,
                                 frontend_.backend->config().rebalance.quiet);
    moved += static_cast<std::size_t>(n);
    p.unflushed_bytes += static_cast<std::uint64_t>(n);
    if (p.unflushed_bytes >= counter_flush_bytes) flush_counters(p);
  }
  if (!resume_queued_) {
    resume_queued_ = true;
    host_.loop().again(*this);
  }
  return true;
}

bool session::drain_pipe(pump& p) {
  while (p.pipe->held() > 0) {
    const auto n = p.pipe->drain(p.to->fd);
    if (n > 0) {
      host_.buffers().release(n);
      last_activity_ = host_.loop().now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      p.to->writable = false;
      return true;
    }
    finish(&p == &upstream_pump_ ? end_reason::server_error : end_reason::client_error, true);
    return false;
  }
  return true;
}

void session::end_splice(pump& p) {
  if (p.pipe && p.pipe->held() == 0) p.pipe.reset();
}

void session::flush_counters(pump& p) {
  if (!server_ || p.unflushed_bytes == 0) return;
  host_.moved_bytes(p.unflushed_bytes);
  auto& counters = server_->counters(host_.slot());
  if (&p == &upstream_pump_) add_owned(counters.bytes_sent, p.unflushed_bytes);
  else add_owned(counters.bytes_received, p.unflushed_bytes);
  p.unflushed_bytes = 0;
}

steady::time_point session::pumping_deadline() const {
  const auto stalled = stalled_until_ == steady::time_point::min() ? steady::time_point::max() : stalled_until_;
  return std::min({last_activity_ + frontend_.config.idle_timeout, close_deadline_, stalled});
}

void session::on_deadline() {
  const auto now = host_.loop().now();
  if (awaiting_first_bytes_) return finish(end_reason::first_data_timeout, true);
  if (connecting_) return connect_failed(backend::down_reason::timeout, true);
  if (leaving_) {
    if (now >= close_deadline_) return finish(end_reason::rebalanced, true);  // the client did not close in time
    // A retry: what the kernel moved to the client may have reached it by now.
    stalled_until_ = steady::time_point::min();
    host_.loop().schedule(timer_, close_deadline_);
    return continue_leaving();
  }
  // What the kernel moved since last looked is activity too.
  count_redirected(upstream_pump_);
  count_redirected(downstream_pump_);
  if (stalled_until_ != steady::time_point::min() && now >= stalled_until_) {
    stalled_until_ = steady::time_point::min();
    if (!pump_both()) return;
  }
  if (now >= close_deadline_) {
    if (close_reason_ != end_reason::rebalanced) return finish(end_reason::drained, true);
    // Chosen a moment ago; look again: the server may have left service or started to ramp,
    // and the client may have sent a request since.
    if (server_->up() && !server_->ramping() &&
        client_activity_.quiet_for(frontend_.backend->config().rebalance.quiet, now))
      return begin_leaving();
    close_deadline_ = steady::time_point::max();
  }
  const auto idle_until = last_activity_ + frontend_.config.idle_timeout;
  if (now >= idle_until) return finish(end_reason::idle_timeout);
  host_.loop().schedule(timer_, pumping_deadline());
}

void session::abort(end_reason why) { finish(why, true); }

void session::close_at(steady::time_point deadline) {
  if (closing_ || leaving_) return;
  close_deadline_ = std::min(deadline, close_deadline_);
  close_reason_ = end_reason::drained;  // a drain overrides a pending rebalance
  if (!connecting_ && deadline < timer_.expiry()) host_.loop().schedule(timer_, deadline);
}

void session::rebalance_at(steady::time_point deadline) {
  if (closing_ || leaving_ || close_deadline_set()) return;
  close_deadline_ = deadline;
  close_reason_ = end_reason::rebalanced;
  if (!connecting_ && deadline < timer_.expiry()) host_.loop().schedule(timer_, deadline);
}

void session::release_server() {
  if (counted_) server_->session_closed();
  counted_ = false;
}

void session::begin_leaving() {
  // Pass on what the server has sent so far, then take no more from it and none to it.
  stop_redirect(upstream_pump_);
  stop_redirect(downstream_pump_);
  if (!pump_one(downstream_pump_)) return;
  leaving_ = true;
  flush_counters(upstream_pump_);
  flush_counters(downstream_pump_);
  release_server();
  close_fd(upstream_.fd, false);
  upstream_pump_.finished = true;
  downstream_pump_.finished = true;
  close_deadline_ = host_.loop().now() + leave_linger;
  host_.loop().schedule(timer_, close_deadline_);
  continue_leaving();
}

void session::continue_leaving() {
  if (!client_fin_sent_) {
    auto& down = downstream_pump_;
    if (redirect_pending(down)) return;  // nothing overtakes what the kernel moved to the client
    if (holds_bytes(down) && client_.writable && !(down.pipe ? drain_pipe(down) : flush_backlog(down))) return;
    if (holds_bytes(down)) return;  // the client's leg is full: wait until it drains
    ::shutdown(client_.fd, SHUT_WR);       // a FIN: the client re-opens elsewhere
    client_fin_sent_ = true;
  }
  // Discard what the client still sends until its EOF: closing with unread bytes would reset.
  const auto scratch = host_.scratch();
  while (client_.readable) {
    const auto n = ::recv(client_.fd, scratch.data(), scratch.size(), MSG_DONTWAIT);
    if (n == 0) return finish(end_reason::rebalanced);
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      client_.readable = false;
      return;
    }
    return finish(end_reason::rebalanced, true);
  }
}

void session::close_legs(bool reset) {
  close_fd(client_.fd, reset);
  close_fd(upstream_.fd, reset);
  if (!kernel_) return;
  // Closed, the sockets have left the sockhash; their cookies and the pair are free again.
  sockmap_path* path = host_.sockmap();
  for (auto cookie : kernel_->cookies)
    if (cookie) path->forget(cookie);
  path->free_pair(kernel_->pair);
  release_credit();
  kernel_.reset();
}

void session::finish(end_reason why, bool reset_peers) {
  if (closing_) return;
  count_redirected(upstream_pump_);
  count_redirected(downstream_pump_);
  flush_counters(upstream_pump_);
  flush_counters(downstream_pump_);
  drop_backlog(upstream_pump_);
  drop_backlog(downstream_pump_);
  if (server_ && why == end_reason::rebalanced) add_owned(server_->counters(host_.slot()).rebalanced, 1);
  frontend_.stats->worker(host_.slot()).count_end(why);
  if (log::enabled(log::level::debug)) {
    // On the sockmap path: bytes moved in the kernel, and left for the pump.
    const kernel_state::direction none;
    const auto& up = kernel_ ? kernel_->up : none;
    const auto& down = kernel_ ? kernel_->down : none;
    log::debug("session end", {{"backend", frontend_.backend->name()},
                               {"server", server_ ? server_->name() : std::string("-")},
                               {"reason", generation::to_string(why)},
                               {"in_kernel", std::to_string(up.redirect_counted + down.redirect_counted)},
                               {"passed", std::to_string(up.passed_read + down.passed_read)},
                               {"repeated", std::to_string(up.repeated + down.repeated)}});
  }
  // Closing takes both descriptors out of the loop's epoll set (and the sockhash's).
  close_legs(reset_peers);
  leave();
}

void session::leave() {
  closing_ = true;
  release_server();
  add_owned(frontend_.stats->worker(host_.slot()).active, std::int64_t{-1});
  if (source_counted_) frontend_.stats->sources().remove(client_key_);
  // Ended now, not when freed after this turn: a connection accepted later in the same turn
  // finds the slot free.
  host_.session_ended(*this);
  if (resume_queued_) host_.loop().forget(*this);
  host_.loop().cancel(timer_);
  host_.loop().retire(std::unique_ptr<loop_target>(this));
}

bool session::hand_over(handed_session& out) {
  // A session only half in the sockhash (its upstream leg could not join) ends here.
  if (closing_ || leaving_ || (kernel_ && !kernel_->down.shared)) return false;
  const auto now = host_.loop().now();
  // Out of the epoll set before the descriptors leave: it would report them for as long as the
  // next process holds its copies.
  host_.loop().unwatch(client_.fd);
  if (upstream_.fd >= 0) host_.loop().unwatch(upstream_.fd);
  out.client_fd = std::exchange(client_.fd, -1);
  out.upstream_fd = std::exchange(upstream_.fd, -1);
  out.frontend = frontend_.config.name;
  if (server_) {
    out.server = server_->name();
    out.server_address = server_->address().to_string();
  }
  const auto backlog_of = [this](pump& p) {
    if (p.pipe) {
      host_.buffers().release(static_cast<std::int64_t>(p.pipe->held()));
      return p.pipe->take_all();
    }
    return p.backlog ? std::string(p.backlog.get() + p.backlog_offset, p.backlog_size) : std::string();
  };
  out.to_server = backlog_of(upstream_pump_);
  out.to_client = backlog_of(downstream_pump_);
  out.client_done = upstream_pump_.finished;
  out.server_done = downstream_pump_.finished;
  out.client_finished_first = client_finished_first_;
  out.connecting = connecting_;
  out.awaiting_first_bytes = awaiting_first_bytes_;
  out.age_ns = std::chrono::nanoseconds(now - started_at_).count();
  out.idle_ns = std::chrono::nanoseconds(now - last_activity_).count();
  out.close_in_ns = close_deadline_set() && close_reason_ == end_reason::drained
                        ? std::max<std::int64_t>(0, std::chrono::nanoseconds(close_deadline_ - now).count())
                        : -1;
  out.client_key = client_key_;
  out.activity = client_activity_.save(now);
  count_redirected(upstream_pump_);
  count_redirected(downstream_pump_);
  flush_counters(upstream_pump_);
  flush_counters(downstream_pump_);
  drop_backlog(upstream_pump_);
  drop_backlog(downstream_pump_);
  hand_over_sockmap(out);
  leave();
  return true;
}

void session::restore_backlog(pump& p, const std::string& bytes) {
  if (bytes.empty()) return;
  p.backlog_size = static_cast<std::uint32_t>(bytes.size());
  p.backlog_offset = 0;
  p.backlog = std::make_unique_for_overwrite<char[]>(bytes.size());
  p.backlog_capacity = p.backlog_size;
  std::memcpy(p.backlog.get(), bytes.data(), bytes.size());
  host_.buffers().hold(p.backlog_size);
}

void session::resume(handed_session& handed, backend::server_ptr server, int index) {
  using std::chrono::nanoseconds;
  const auto now = host_.loop().now();
  started_at_ = now - nanoseconds(handed.age_ns);
  last_activity_ = now - nanoseconds(handed.idle_ns);
  client_activity_ = client_activity::restore(handed.activity, now);
  awaiting_first_bytes_ = handed.awaiting_first_bytes;
  client_finished_first_ = handed.client_finished_first;
  upstream_pump_.finished = handed.client_done;
  downstream_pump_.finished = handed.server_done;
  upstream_.fd = std::exchange(handed.upstream_fd, -1);
  upstream_.writable = upstream_.fd >= 0;
  if (server) {
    server_ = std::move(server);
    server_->session_opened();
    counted_ = true;
    tried_ = backend::server_mask{1} << index;
    if (attempts_left_ > 0) --attempts_left_;
  }
  restore_backlog(upstream_pump_, handed.to_server);
  restore_backlog(downstream_pump_, handed.to_client);
  if (handed.sockmap_pair >= 0 && !resume_in_sockmap(handed)) {
    log::warn("a handed-over session is in a sockmap this process does not have");
    return finish(end_reason::local_error, true);
  }
  // Watching reports what is pending on each descriptor already, so no byte waits unseen.
  if (!host_.loop().watch(client_.fd, *this, client_tag) ||
      (upstream_.fd >= 0 && !host_.loop().watch(upstream_.fd, *this, upstream_tag))) {
    log::warn("cannot watch a handed-over session", {{"error", std::strerror(errno)}});
    return finish(end_reason::local_error, true);
  }
  if (awaiting_first_bytes_)
    return host_.loop().schedule(timer_, started_at_ + frontend_.config.first_data_timeout);
  if (upstream_.fd < 0) return connect_next();  // no upstream yet, and no longer waiting for bytes
  if (handed.connecting) {
    if (!server_) return finish(end_reason::connect_failed, true);
    connecting_ = true;
    upstream_.writable = false;
    return host_.loop().schedule(timer_, now + frontend_.config.connect_timeout);
  }
  if (handed.close_in_ns >= 0) close_at(now + nanoseconds(handed.close_in_ns));
  else if (!server_) close_at(now + frontend_.backend->config().drain.grace);  // its server is gone
  host_.loop().schedule(timer_, pumping_deadline());
  pump_both();
}

}  // namespace cplb::proxy
