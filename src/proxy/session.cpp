#include "session.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "cplb/core/log.hpp"
#include "socket_options.hpp"
#include "worker.hpp"

namespace cplb::proxy {

namespace asio = boost::asio;
using boost::system::error_code;
using steady = std::chrono::steady_clock;

namespace {

/// Long sessions publish their byte counts in chunks of this size, not only at the end.
constexpr std::uint64_t counter_flush_bytes = 1 << 20;
/// Bytes one direction may move per readiness event before yielding to other sessions.
constexpr std::size_t bytes_per_turn = 1 << 20;

const char* to_string(session::end_reason r) {
  switch (r) {
    case session::end_reason::done: return "done";
    case session::end_reason::client_error: return "client_error";
    case session::end_reason::server_error: return "server_error";
    case session::end_reason::idle_timeout: return "idle_timeout";
    case session::end_reason::connect_failed: return "connect_failed";
    case session::end_reason::no_server: return "no_server";
    case session::end_reason::closed_by_proxy: return "closed_by_proxy";
  }
  return "unknown";
}

/// Closes a socket so the peer sees a reset rather than a clean end.
void reset(asio::ip::tcp::socket& s) {
  if (!s.is_open()) return;
  const linger l{1, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  error_code ignored;
  s.close(ignored);
}

}  // namespace

// Wraps a completion handler so that it counts as pending while in flight, and so that nothing
// but the bookkeeping runs once the session is closing.
template <typename Handler>
auto session::track(Handler handler) {
  ++pending_;
  return [this, handler](const error_code& ec) {
    --pending_;
    if (closing_) return release_if_idle();
    handler(ec);
  };
}

session::session(worker& owner, asio::ip::tcp::socket client, std::shared_ptr<const runtime> rt,
                 const frontend_runtime& frontend, std::uint64_t client_key)
    : owner_(owner),
      client_(std::move(client)),
      upstream_(owner.context()),
      timer_(owner.context()),
      runtime_(std::move(rt)),
      frontend_(frontend),
      attempts_left_(frontend.config.retries + 1),
      client_key_(client_key),
      last_activity_(steady::now()) {
  upstream_pump_.from = &client_;
  upstream_pump_.to = &upstream_;
  downstream_pump_.from = &upstream_;
  downstream_pump_.to = &client_;
  auto& counters = frontend_.stats->worker(owner_.index());
  add_owned(counters.active, std::int64_t{1});
  owner_.add_session(*this);
}

session::~session() {
  auto& counters = frontend_.stats->worker(owner_.index());
  add_owned(counters.active, std::int64_t{-1});
  owner_.remove_session(*this);
  owner_.shared().close_session();
}

void session::start() { connect_next(); }

void session::connect_next() {
  const auto eligible = frontend_.backend->eligible(tried_);
  const int index = attempts_left_ == 0 ? -1 : owner_.pick(*frontend_.backend, eligible, client_key_);
  if (index < 0) {
    if (tried_ == 0) {
      auto& counters = frontend_.stats->worker(owner_.index());
      add_owned(counters.rejected_no_server, std::uint64_t{1});
      return finish(end_reason::no_server, true);
    }
    return finish(end_reason::connect_failed, true);
  }
  --attempts_left_;
  server_index_ = index;
  tried_ |= backend::server_mask{1} << index;
  server_ = frontend_.backend->servers()[static_cast<std::size_t>(index)];

  std::string error;
  const int fd = open_tcp_socket(server_->address().family(), error);
  if (fd < 0) {
    // Out of descriptors or memory here is local trouble, not the server's fault.
    log::warn("cannot open upstream socket", {{"server", server_->name()}, {"error", error}});
    server_ = nullptr;
    return finish(end_reason::connect_failed, true);
  }
  error_code ec;
  upstream_.assign(server_->address().family() == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd, ec);
  if (ec) {
    server_ = nullptr;
    return finish(end_reason::connect_failed, true);
  }
  apply_session_options(fd, frontend_.config);
  connecting_ = true;
  connect_timed_out_ = false;
  arm_timer(steady::now() + frontend_.config.connect_timeout);
  // A plain non-blocking connect: Asio's async_connect would add an ioctl and a poll per try.
  if (::connect(fd, server_->address().data(), server_->address().size()) == 0)
    return on_connected({});
  if (errno != EINPROGRESS) return on_connected(error_code(errno, boost::system::system_category()));
  upstream_.async_wait(asio::socket_base::wait_write, track([this](const error_code& e) {
    if (e) return on_connected(e);
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(upstream_.native_handle(), SOL_SOCKET, SO_ERROR, &error, &size);
    on_connected(error_code(error, boost::system::system_category()));
  }));
}

void session::on_connected(const error_code& ec) {
  connecting_ = false;
  if (ec) return connect_failed(connect_timed_out_ ? backend::down_reason::timeout
                                : ec == asio::error::connection_refused ? backend::down_reason::refused
                                                                        : backend::down_reason::connect_failed);
  auto& counters = server_->counters(owner_.index());
  add_owned(counters.connections, 1);
  server_->session_opened();
  start_pumping();
}

void session::connect_failed(backend::down_reason why) {
  auto& counters = server_->counters(owner_.index());
  add_owned(counters.connect_failures, 1);
  if (log::enabled(log::level::debug))
    log::debug("connect failed", {{"backend", frontend_.backend->name()},
                                  {"server", server_->name()},
                                  {"reason", backend::to_string(why)}});
  if (owner_.shared().on_connect_failure) owner_.shared().on_connect_failure(server_, why);
  error_code ignored;
  upstream_.close(ignored);
  server_ = nullptr;
  connect_next();
}

void session::start_pumping() {
  last_activity_ = steady::now();
  arm_timer(std::min(last_activity_ + frontend_.config.idle_timeout, close_deadline_));
  // The client has usually sent its first bytes (a TLS ClientHello) while we connected: pass
  // them on now instead of waiting for a readiness event that has already happened.
  if (!transfer(upstream_pump_)) return;
  if (!upstream_pump_.finished && !upstream_pump_.backlog) wait_readable(upstream_pump_);
  wait_readable(downstream_pump_);
}

void session::wait_readable(pump& p) {
  p.from->async_wait(asio::socket_base::wait_read,
                     track([this, &p](const error_code& ec) { on_readable(p, ec); }));
}

void session::wait_writable(pump& p) {
  p.to->async_wait(asio::socket_base::wait_write,
                   track([this, &p](const error_code& ec) { on_writable(p, ec); }));
}

void session::on_readable(pump& p, const error_code& ec) {
  if (ec) return finish(&p == &upstream_pump_ ? end_reason::client_error : end_reason::server_error, true);
  if (transfer(p) && !p.finished && !p.backlog) wait_readable(p);
}

void session::on_writable(pump& p, const error_code& ec) {
  if (ec) return finish(&p == &upstream_pump_ ? end_reason::server_error : end_reason::client_error, true);
  const int to = p.to->native_handle();
  while (p.backlog_size > 0) {
    const auto n = ::send(to, p.backlog.get() + p.backlog_offset, p.backlog_size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return wait_writable(p);
      return finish(&p == &upstream_pump_ ? end_reason::server_error : end_reason::client_error, true);
    }
    p.backlog_offset += static_cast<std::uint32_t>(n);
    p.backlog_size -= static_cast<std::uint32_t>(n);
  }
  p.backlog.reset();
  p.backlog_offset = 0;
  if (transfer(p) && !p.finished && !p.backlog) wait_readable(p);
}

bool session::transfer(pump& p) {
  const auto scratch = owner_.scratch();
  const int from = p.from->native_handle();
  const int to = p.to->native_handle();
  for (std::size_t moved = 0; moved < bytes_per_turn;) {
    const auto n = ::recv(from, scratch.data(), scratch.size(), MSG_DONTWAIT);
    if (n == 0) {
      // EOF: pass the half-close on, and end the session once both directions have (the
      // close then says all there is to say: no shutdown call needed).
      p.finished = true;
      flush_counters(p);
      if (upstream_pump_.finished && downstream_pump_.finished) {
        finish(end_reason::done);
        return false;
      }
      ::shutdown(to, SHUT_WR);
      return true;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      finish(&p == &upstream_pump_ ? end_reason::client_error : end_reason::server_error, true);
      return false;
    }
    last_activity_ = steady::now();
    moved += static_cast<std::size_t>(n);
    p.unflushed_bytes += static_cast<std::uint64_t>(n);
    if (p.unflushed_bytes >= counter_flush_bytes) flush_counters(p);

    std::size_t sent = 0;
    while (sent < static_cast<std::size_t>(n)) {
      const auto w = ::send(to, scratch.data() + sent, static_cast<std::size_t>(n) - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        finish(&p == &upstream_pump_ ? end_reason::server_error : end_reason::client_error, true);
        return false;
      }
      sent += static_cast<std::size_t>(w);
    }
    if (sent < static_cast<std::size_t>(n)) {
      // The other leg is full: keep the rest and stop reading this way until it drains.
      p.backlog_size = static_cast<std::uint32_t>(static_cast<std::size_t>(n) - sent);
      p.backlog_offset = 0;
      p.backlog = std::make_unique_for_overwrite<char[]>(p.backlog_size);
      std::memcpy(p.backlog.get(), scratch.data() + sent, p.backlog_size);
      wait_writable(p);
      return true;
    }
    // A short read means the socket is drained: wait for the next readiness rather than pay
    // for a recv that would only say EAGAIN.
    if (static_cast<std::size_t>(n) < scratch.size()) return true;
  }
  return true;  // turn used up: the next wait fires at once if more is queued
}

void session::flush_counters(pump& p) {
  if (!server_ || p.unflushed_bytes == 0) return;
  auto& counters = server_->counters(owner_.index());
  if (&p == &upstream_pump_) add_owned(counters.bytes_sent, p.unflushed_bytes);
  else add_owned(counters.bytes_received, p.unflushed_bytes);
  p.unflushed_bytes = 0;
}

void session::arm_timer(steady::time_point at) {
  timer_.expires_at(at);
  timer_.async_wait(track([this](const error_code& ec) { on_timer(ec); }));
}

void session::on_timer(const error_code& ec) {
  if (ec == asio::error::operation_aborted) return;  // re-armed or connected
  const auto now = steady::now();
  if (connecting_) {
    if (now < timer_.expiry()) return arm_timer(timer_.expiry());
    connect_timed_out_ = true;
    error_code ignored;
    upstream_.close(ignored);  // completes the connect with operation_aborted
    return;
  }
  if (now >= close_deadline_) return finish(end_reason::closed_by_proxy, true);
  const auto idle_until = last_activity_ + frontend_.config.idle_timeout;
  if (now >= idle_until) return finish(end_reason::idle_timeout);
  arm_timer(std::min(idle_until, close_deadline_));
}

void session::abort() { finish(end_reason::closed_by_proxy, true); }

void session::close_at(steady::time_point deadline) {
  if (closing_) return;
  close_deadline_ = deadline;
  if (!connecting_) arm_timer(std::min(last_activity_ + frontend_.config.idle_timeout, close_deadline_));
}

void session::finish(end_reason why, bool reset_peers) {
  if (closing_) return;
  closing_ = true;
  flush_counters(upstream_pump_);
  flush_counters(downstream_pump_);
  if (server_ && !connecting_) server_->session_closed();
  if (log::enabled(log::level::debug))
    log::debug("session end", {{"backend", frontend_.backend->name()},
                               {"server", server_ ? server_->name() : std::string("-")},
                               {"reason", to_string(why)}});
  error_code ignored;
  timer_.cancel();
  if (reset_peers) {
    reset(client_);
    reset(upstream_);
  } else {
    client_.close(ignored);
    upstream_.close(ignored);
  }
  release_if_idle();
}

void session::release_if_idle() {
  if (pending_ == 0) delete this;
}

}  // namespace cplb::proxy
