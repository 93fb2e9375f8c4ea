#include "acceptor.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "cplb/core/log.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace cplb::proxy {

namespace {

/// How long accepting pauses when the process is out of descriptors or memory.
constexpr std::chrono::milliseconds exhaustion_pause{100};
/// Connections accepted per turn of the loop before the sessions already accepted get theirs. In
/// a reconnect storm a larger batch moves the listen queue into the loop's ready list faster than
/// the loop serves it, and every client waits behind the whole storm (bench/lib/storm.py: with 64
/// twice a turn the median first byte came at 58 % of the storm's length; 16 once a turn cut the
/// time to the last client served by a quarter).
constexpr int accept_batch_size = 16;

void reset_and_close(int fd) {
  const linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

}  // namespace

acceptor::acceptor(worker& owner, int fd, const socket_address& address)
    : owner_(owner), fd_(fd), address_(address) {}

acceptor::~acceptor() {
  auto& loop = owner_.loop();
  if (resume_queued_) loop.forget(*this);
  loop.cancel(pause_timer_);
  // Out of the epoll set first: closing does not take it out while a copy is open elsewhere (an
  // upgrade's new process, or the copies kept to take it back).
  loop.unwatch(fd_);
  ::close(fd_);
}

void acceptor::serve(generation::snapshot_ptr gen, const generation::frontend& frontend) {
  generation_ = std::move(gen);
  frontend_ = &frontend;
}

void acceptor::start() {
  if (!owner_.loop().watch(fd_, *this, 0))
    log::error("cannot watch listening socket", {{"frontend", name()}, {"error", std::strerror(errno)}});
}

void acceptor::on_ready(unsigned, std::uint32_t) {
  // One batch a turn: with one queued (on_resume, later in this turn) a new edge adds nothing.
  if (!resume_queued_ && !pause_timer_.armed()) accept_batch();
}

void acceptor::on_resume() {
  resume_queued_ = false;
  accept_batch();
}

void acceptor::on_deadline() { accept_batch(); }  // the pause is over

void acceptor::accept_batch() {
  for (int i = 0; i < accept_batch_size; ++i) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    const int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      accept_one(fd, peer, peer_len);
      continue;
    }
    switch (errno) {
      case EAGAIN: return;  // the next connection raises a new edge
      case EINTR: case ECONNABORTED: case EPROTO: case EPERM: continue;
      case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM: return pause();
      default:
        log::error("accept failed", {{"frontend", name()}, {"error", std::strerror(errno)}});
        return pause();
    }
  }
  // Batch used up: let other sockets run, then carry on.
  resume_queued_ = true;
  owner_.loop().again(*this);
}

void acceptor::accept_one(int fd, const sockaddr_storage& peer, socklen_t peer_len) {
  paused_logged_ = false;
  auto& counters = frontend_->stats->worker(owner_.slot());
  add_owned(counters.connections, std::uint64_t{1});
  if (!owner_.shared().try_open_session()) return reject(fd, counters.rejected_max);
  const std::size_t per_source = frontend_->config.max_connections_per_source;
  std::uint64_t client_key = 0;
  if (per_source > 0 || frontend_->backend->config().balance == config::balance_algorithm::source_hash)
    client_key = socket_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&peer), peer_len).ip_hash();
  if (per_source > 0 && !frontend_->stats->sources().try_add(client_key, per_source)) {
    owner_.shared().close_session();
    return reject(fd, counters.rejected_per_source);
  }
  auto* s = new session(owner_, fd, generation_, *frontend_, client_key, per_source > 0);
  // Right after the session is counted, before the slow part of its start: the worker's load
  // reads one too high (or, taken away first, one too low) only for that instant.
  owner_.shared().placement.accepted(owner_.slot());
  s->start();
}

void acceptor::reject(int fd, std::atomic<std::uint64_t>& counter) {
  add_owned(counter, std::uint64_t{1});
  owner_.shared().placement.accepted(owner_.slot());  // placed here, and now taken
  reset_and_close(fd);
}

void acceptor::pause() {
  auto& counters = frontend_->stats->worker(owner_.slot());
  add_owned(counters.accept_pauses, std::uint64_t{1});
  if (!paused_logged_) {
    log::warn("accept paused: out of file descriptors or memory",
              {{"frontend", name()}, {"error", std::strerror(errno)}, {"pause", "100ms"}});
    paused_logged_ = true;
  }
  // Edge-triggered: the backlog already waiting raises no new event, so look again after it.
  owner_.loop().schedule(pause_timer_, owner_.loop().now() + exhaustion_pause);
}

}  // namespace cplb::proxy
