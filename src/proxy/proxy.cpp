#include "cplb/proxy/proxy.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <latch>
#include <stdexcept>

#include "socket_options.hpp"
#include "worker.hpp"

namespace cplb::proxy {

namespace {

/// A frontend of `previous` that keeps listening unchanged under `f`, or nullptr.
const frontend_runtime* unchanged_listener(const runtime* previous, const config::frontend_config& f) {
  if (!previous) return nullptr;
  for (const auto& old : previous->frontends)
    if (old.config.name == f.name && old.config.listen == f.listen) return &old;
  return nullptr;
}

}  // namespace

proxy::proxy(unsigned workers, std::size_t max_connections, connect_failure_hook on_connect_failure)
    : shared_(std::make_shared<shared_state>()) {
  shared_->max_connections.store(max_connections, std::memory_order_relaxed);
  shared_->on_connect_failure = std::move(on_connect_failure);
  for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<worker>(i, *shared_));
}

proxy::~proxy() { stop(); }

unsigned proxy::worker_count() const { return static_cast<unsigned>(workers_.size()); }

void proxy::start(std::shared_ptr<const runtime> rt) {
  std::string error;
  if (!update(std::move(rt), error)) throw std::runtime_error(error);
  for (auto& w : workers_) w->run();
}

bool proxy::update(std::shared_ptr<const runtime> rt, std::string& error) {
  // Bind every new listener of every worker first, so a failure changes nothing.
  const auto n = rt->frontends.size();
  std::vector<std::vector<int>> fds(workers_.size(), std::vector<int>(n, -1));
  for (std::size_t f = 0; f < n; ++f) {
    const auto& frontend = rt->frontends[f].config;
    if (unchanged_listener(current_.get(), frontend)) continue;
    // One SO_REUSEPORT socket per worker: the kernel spreads connections over them by address
    // hash, so long-lived sessions end up evenly spread even when the workers are idle.
    bool opened = true;
    for (std::size_t w = 0; opened && w < workers_.size(); ++w) {
      fds[w][f] = open_listener(frontend.listen, frontend, error);
      opened = fds[w][f] >= 0;
    }
    if (opened) continue;
    error = "frontend " + frontend.name + ": " + error;
    for (auto& row : fds)
      for (int d : row)
        if (d >= 0) ::close(d);
    return false;
  }
  for (std::size_t w = 0; w < workers_.size(); ++w)
    workers_[w]->post([wk = workers_[w].get(), rt, f = std::move(fds[w])]() mutable {
      wk->apply(std::move(rt), std::move(f));
    });
  current_ = std::move(rt);
  return true;
}

void proxy::close_sessions(const backend::server_ptr& server, duration spread) {
  for (auto& w : workers_)
    w->post([wk = w.get(), server, spread] { wk->close_sessions(server.get(), spread); });
}

void proxy::stop_accepting() {
  // Waits for every worker, so that no connection is accepted once this returns.
  std::latch stopped(static_cast<std::ptrdiff_t>(workers_.size()));
  for (auto& w : workers_)
    w->post([wk = w.get(), &stopped] {
      wk->stop_accepting();
      stopped.count_down();
    });
  stopped.wait();
}

void proxy::stop() {
  for (auto& w : workers_) w->post([wk = w.get()] { wk->shutdown(); });
  for (auto& w : workers_) w->join();
}

std::size_t proxy::active_sessions() const {
  return shared_->active_sessions.load(std::memory_order_relaxed);
}

std::size_t proxy::max_connections() const {
  return shared_->max_connections.load(std::memory_order_relaxed);
}

void proxy::set_max_connections(std::size_t cap) {
  shared_->max_connections.store(cap, std::memory_order_relaxed);
}

}  // namespace cplb::proxy
