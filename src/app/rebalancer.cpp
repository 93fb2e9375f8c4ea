#include "rebalancer.hpp"

#include <vector>

#include "cplb/core/log.hpp"

namespace cplb::app {

namespace {

/// How often the backends are looked at; closes due within a tick are jittered over it.
constexpr std::chrono::milliseconds tick_interval{250};

}  // namespace

rebalancer::rebalancer(boost::asio::io_context& io, proxy::proxy& proxy)
    : io_(io), proxy_(proxy), timer_(io) {}

void rebalancer::watch(std::shared_ptr<const backend::backend_set> set) {
  const bool first = !set_;
  set_ = std::move(set);
  std::erase_if(episodes_, [this](const auto& e) {
    for (const auto& b : set_->all())
      for (const auto& s : b->servers())
        if (s.get() == e.first) return false;
    return true;
  });
  if (first) tick();
}

void rebalancer::stop() {
  stopped_ = true;
  timer_.cancel();
}

void rebalancer::tick() {
  if (stopped_) return;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& b : set_->all())
    if (b->config().rebalance.threshold > 0) plan(*b, now);
  timer_.expires_after(tick_interval);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void rebalancer::plan(const backend::backend& b, std::chrono::steady_clock::time_point now) {
  const auto& cfg = b.config().rebalance;
  std::vector<backend::rebalance_server> view;
  for (const auto& s : b.servers())
    view.push_back({s->active_sessions(), s->current_weight(), s->up(), s->up() && !s->ramping()});
  const auto surplus = backend::rebalance_surplus(view, cfg.threshold);
  for (std::size_t i = 0; i < surplus.size(); ++i) {
    const auto& server = b.servers()[i];
    auto it = episodes_.find(server.get());
    if (surplus[i] <= 0) {
      if (it != episodes_.end()) {
        log::debug("rebalance done", {{"backend", b.name()}, {"server", server->name()},
                                     {"sessions", server->active_sessions()}});
        episodes_.erase(it);
      }
      continue;
    }
    if (it != episodes_.end() && it->second.unused) {
      it->second.pace.give_back(std::max<std::int64_t>(it->second.unused->load(), 0));
      it->second.unused.reset();
    }
    if (it != episodes_.end() && it->second.pace.done()) {
      episodes_.erase(it);  // a whole spread went by and the server is still over: start again
      it = episodes_.end();
    }
    if (it == episodes_.end()) {
      it = episodes_.emplace(server.get(), episode{backend::rebalance_episode(now, surplus[i], cfg.spread), nullptr})
               .first;
      log::info("rebalancing", {{"backend", b.name()}, {"server", server->name()},
                                {"sessions", view[i].sessions}, {"surplus", surplus[i]},
                                {"spread", format_duration(cfg.spread)},
                                {"quiet", format_duration(cfg.quiet)}});
    }
    if (const auto due = it->second.pace.take_due(now); due > 0)
      it->second.unused = proxy_.rebalance(server, due, cfg.quiet, tick_interval);
  }
}

}  // namespace cplb::app
