#include "worker.hpp"

#include "listener.hpp"

namespace cplb::proxy {

worker::worker(unsigned index, shared_state& shared) : index_(index), shared_(shared) {}

worker::~worker() { join(); }

void worker::run() {
  thread_ = std::thread([this] { loop_.run(); });
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

void worker::apply(std::shared_ptr<const runtime> rt, std::vector<int> fds) {
  std::vector<std::unique_ptr<listener>> next;
  for (std::size_t i = 0; i < rt->frontends.size(); ++i) {
    const auto& frontend = rt->frontends[i];
    std::unique_ptr<listener> l;
    if (fds[i] >= 0) {
      l = std::make_unique<listener>(*this, fds[i], frontend.config.listen);
      l->serve(rt, frontend);
      l->start();
    } else {
      for (auto& old : listeners_)
        if (old && old->name() == frontend.config.name) l = std::move(old);
      l->serve(rt, frontend);
    }
    next.push_back(std::move(l));
  }
  listeners_ = std::move(next);  // the rest were removed, or replaced by one on a new address

  pickers_.clear();
  for (const auto& b : rt->backends->all())
    pickers_.emplace(b.get(), backend::make_picker(b->config().balance, b->servers(),
                                                   0x9e3779b97f4a7c15ull * (index_ + 1)));
  runtime_ = std::move(rt);
}

void worker::stop_accepting() {
  listeners_.clear();
}

void worker::close_sessions(const backend::server* server, duration spread) {
  std::vector<session*> victims;
  for (auto& s : sessions_)
    if (s.server() == server) victims.push_back(&s);
  if (spread.count() == 0) {
    for (auto* s : victims) s->abort();
    return;
  }
  // Even spacing over the window, so thousands of watches do not reconnect in the same second.
  const auto now = std::chrono::steady_clock::now();
  const auto step = spread / static_cast<std::int64_t>(victims.size() + 1);
  for (std::size_t i = 0; i < victims.size(); ++i)
    victims[i]->close_at(now + step * static_cast<std::int64_t>(i + 1));
}

void worker::shutdown() {
  stop_accepting();
  for (auto& s : sessions_) s.abort();  // freed once this turn of the loop is over
  loop_.stop();
}

int worker::pick(const backend::backend& b, backend::server_mask eligible, std::uint64_t client_key) {
  const auto it = pickers_.find(&b);
  if (it == pickers_.end()) {
    // A session of an older generation retrying: pick with a fresh picker of its backend.
    auto p = backend::make_picker(b.config().balance, b.servers(), index_);
    return p->pick(eligible, client_key);
  }
  return it->second->pick(eligible, client_key);
}

void worker::add_session(session& s) { sessions_.push_back(s); }

void worker::remove_session(session& s) { sessions_.erase(sessions_.iterator_to(s)); }

}  // namespace cplb::proxy
