#include "worker.hpp"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "acceptor.hpp"
#include "cplb/core/log.hpp"
#include "socket_options.hpp"

namespace cplb::proxy {

worker::worker(unsigned index, shared_state& shared)
    : index_(index), shared_(shared), random_(index + 1) {}

worker::~worker() { join(); }

void worker::run() {
  thread_ = std::thread([this] {
    try {
      loop_.run();
    } catch (const std::exception& e) {
      // The data path does not throw; should anything, a worker that silently stopped would
      // leave its sessions hanging: exit non-zero for the supervisor instead.
      log::error("fatal error on a worker: exiting", {{"worker", index_}, {"error", e.what()}});
      std::_Exit(2);  // the contract's runtime failure
    }
  });
  // For top -H and gdb, and to match /livez's "worker N": cplb-worker-N (the kernel keeps 15
  // bytes; past 999 workers a thread keeps the process's name).
  const std::string name = "cplb-worker-" + std::to_string(index_);
  ::pthread_setname_np(thread_.native_handle(), name.c_str());
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

void worker::apply(generation::snapshot_ptr gen, std::vector<int> fds, std::vector<bool> reapply) {
  std::vector<std::unique_ptr<acceptor>> next;
  for (std::size_t i = 0; i < gen->frontends.size(); ++i) {
    const auto& frontend = gen->frontends[i];
    std::unique_ptr<acceptor> a;
    if (fds[i] >= 0) {
      a = std::make_unique<acceptor>(*this, fds[i], frontend.config.listen);
      a->serve(gen, frontend);
      a->start();
    } else {
      for (auto& old : acceptors_)
        if (old && old->address() == frontend.config.listen) a = std::move(old);
      if (!a) continue;  // accepting has stopped (shutdown): nothing to serve it with
      if (reapply[i]) apply_session_options(a->fd(), frontend.config, false);
      a->serve(gen, frontend);
    }
    next.push_back(std::move(a));
  }
  acceptors_ = std::move(next);  // the rest were removed, or replaced by one on a new address
  generation_ = std::move(gen);
}

void worker::stop_accepting() { acceptors_.clear(); }

void worker::close_sessions(const backend::server* server, duration spread) {
  std::vector<session*> victims;
  for (auto& s : sessions_)
    if (s.server() == server) victims.push_back(&s);
  if (spread.count() == 0) {
    for (auto* s : victims) s->abort(session::end_reason::drained);
    return;
  }
  // Even spacing over the window, so thousands of watches do not reconnect in the same second.
  const auto now = loop_.now();
  const auto step = spread / static_cast<std::int64_t>(victims.size() + 1);
  for (std::size_t i = 0; i < victims.size(); ++i)
    victims[i]->close_at(now + step * static_cast<std::int64_t>(i + 1));
}

void worker::rebalance(const backend::server* server, std::int64_t share,
                       const std::shared_ptr<std::atomic<std::int64_t>>& budget, duration quiet,
                       duration window) {
  const auto now = loop_.now();
  std::vector<session*> quiet_ones;
  for (auto& s : sessions_)
    if (s.server() == server && s.rebalanceable(quiet, now)) quiet_ones.push_back(&s);
  std::sort(quiet_ones.begin(), quiet_ones.end(),
            [](const session* a, const session* b) { return a->started_at() < b->started_at(); });
  std::uniform_int_distribution<std::int64_t> jitter(0, std::max<std::int64_t>(window.count() - 1, 0));
  for (std::size_t i = 0; i < quiet_ones.size() && static_cast<std::int64_t>(i) < share; ++i) {
    // Claim one close; the last claim that finds nothing left gives it back.
    if (budget->fetch_sub(1, std::memory_order_relaxed) <= 0) {
      budget->fetch_add(1, std::memory_order_relaxed);
      return;
    }
    quiet_ones[i]->rebalance_at(now + duration(jitter(random_)));
  }
}

void worker::shutdown() {
  stop_accepting();
  // Each abort takes its session off the list: walk a copy.
  std::vector<session*> all;
  for (auto& s : sessions_) all.push_back(&s);
  for (auto* s : all) s->abort(session::end_reason::shutdown);  // freed after this turn
  loop_.stop();
}

void worker::hand_over_sessions(std::vector<handed_session>& out) {
  std::vector<session*> all;  // each hand-over takes its session off the list
  for (auto& s : sessions_) all.push_back(&s);
  for (auto* s : all) {
    handed_session h;
    if (s->hand_over(h)) out.push_back(std::move(h));
  }
}

void worker::adopt(handed_session handed) {
  const generation::frontend* frontend = nullptr;
  for (const auto& f : generation_->frontends)
    if (f.config.name == handed.frontend) frontend = &f;
  if (!frontend) {
    // Its frontend was removed from the config meanwhile: nothing here can serve it.
    log::warn("handed-over session dropped: its frontend is gone", {{"frontend", handed.frontend}});
    handed.close_fds();
    return;
  }
  backend::server_ptr server;
  int index = -1;
  const auto& servers = frontend->backend->servers();
  for (std::size_t i = 0; i < servers.size(); ++i)
    if (servers[i]->name() == handed.server && servers[i]->address().to_string() == handed.server_address) {
      server = servers[i];
      index = static_cast<int>(i);
    }
  const bool per_source = frontend->config.max_connections_per_source > 0;
  // An established session is never refused for a cap: it only counts against new ones.
  shared_.adopt_session();
  if (per_source) frontend->stats->sources().add(handed.client_key);
  auto* s = new session(*this, std::exchange(handed.client_fd, -1), generation_, *frontend, handed.client_key,
                        per_source);
  s->resume(handed, std::move(server), index);
}

std::vector<std::pair<socket_address, int>> worker::listening_sockets() const {
  std::vector<std::pair<socket_address, int>> out;
  for (const auto& a : acceptors_)
    if (a) out.emplace_back(a->address(), a->fd());
  return out;
}

int worker::pick(const backend::backend& b, backend::server_mask eligible, std::uint64_t client_key) {
  return b.pick(eligible, client_key);
}

void worker::connect_failed(const backend::server_ptr& server, backend::down_reason why) {
  if (shared_.on_connect_failure) shared_.on_connect_failure(server, why);
}

void worker::session_started(session& s) {
  sessions_.push_back(s);
  add_owned(active_, std::int64_t{1});
  shared_.placement.publish(index_, active_.load(std::memory_order_relaxed));
}

void worker::session_ended(session& s) {
  sessions_.erase(sessions_.iterator_to(s));
  add_owned(active_, std::int64_t{-1});
  shared_.placement.publish(index_, active_.load(std::memory_order_relaxed));
  shared_.close_session();
}

worker_load worker::load() const {
  worker_load out;
  out.active_sessions = active_.load(std::memory_order_relaxed);
  out.bytes = bytes_.load(std::memory_order_relaxed);
  clockid_t clock;
  timespec t{};
  if (thread_.joinable() && ::pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &clock) == 0 &&
      ::clock_gettime(clock, &t) == 0)
    out.cpu_seconds = static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  return out;
}

}  // namespace cplb::proxy
