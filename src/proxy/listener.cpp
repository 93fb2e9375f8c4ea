#include "listener.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "cplb/core/log.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace cplb::proxy {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/// How long accepting pauses when the process is out of descriptors or memory.
constexpr std::chrono::milliseconds exhaustion_pause{100};
/// Connections accepted per readiness event before giving other sockets a turn.
constexpr int accept_batch = 64;

asio::ip::tcp protocol_of(const socket_address& address) {
  return address.family() == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4();
}

void reset_and_close(int fd) {
  const linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

}  // namespace

listener::listener(worker& owner, int fd, const socket_address& address)
    : owner_(owner), acceptor_(owner.context()), pause_timer_(owner.context()), address_(address) {
  acceptor_.assign(protocol_of(address), fd);
}

void listener::serve(std::shared_ptr<const runtime> rt, const frontend_runtime& frontend) {
  runtime_ = std::move(rt);
  frontend_ = &frontend;
}

void listener::start() { wait(); }

void listener::close() {
  error_code ignored;
  acceptor_.close(ignored);
  pause_timer_.cancel();
}

void listener::wait() {
  acceptor_.async_wait(asio::socket_base::wait_read,
                       [self = shared_from_this()](const error_code& ec) { self->on_readable(ec); });
}

void listener::on_readable(const error_code& ec) {
  if (ec) return;  // closed (operation_aborted) or a dead socket: nothing more to accept
  const int listen_fd = acceptor_.native_handle();
  for (int i = 0; i < accept_batch; ++i) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      accept_one(fd, peer, peer_len);
      continue;
    }
    switch (errno) {
      case EAGAIN: return wait();
      case EINTR: case ECONNABORTED: case EPROTO: case EPERM: continue;
      case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM: return pause();
      default:
        log::error("accept failed", {{"frontend", name()}, {"error", std::strerror(errno)}});
        return pause();
    }
  }
  // Batch used up: let other sockets run; the re-armed wait fires again at once.
  wait();
}

void listener::accept_one(int fd, const sockaddr_storage& peer, socklen_t peer_len) {
  paused_logged_ = false;
  auto& counters = frontend_->stats->worker(owner_.index());
  add_owned(counters.connections, std::uint64_t{1});
  if (!owner_.shared().try_open_session()) {
    add_owned(counters.rejected_max, std::uint64_t{1});
    reset_and_close(fd);
    return;
  }
  std::uint64_t client_key = 0;
  if (frontend_->backend->config().balance == config::balance_algorithm::source_hash)
    client_key = socket_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&peer), peer_len).ip_hash();

  asio::ip::tcp::socket client(owner_.context());
  error_code ec;
  client.assign(protocol_of(address_), fd, ec);
  if (ec) {
    ::close(fd);
    owner_.shared().close_session();
    return;
  }
  (new session(owner_, std::move(client), runtime_, *frontend_, client_key))->start();
}

void listener::pause() {
  auto& counters = frontend_->stats->worker(owner_.index());
  add_owned(counters.accept_pauses, std::uint64_t{1});
  if (!paused_logged_) {
    log::warn("accept paused: out of file descriptors or memory",
              {{"frontend", name()}, {"error", std::strerror(errno)}, {"pause", "100ms"}});
    paused_logged_ = true;
  }
  pause_timer_.expires_after(exhaustion_pause);
  pause_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->wait();
  });
}

}  // namespace cplb::proxy
