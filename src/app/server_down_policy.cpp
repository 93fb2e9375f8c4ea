#include "server_down_policy.hpp"

#include "cplb/core/log.hpp"

namespace cplb::app {

server_down_policy::server_down_policy(boost::asio::io_context& io, proxy::proxy& proxy)
    : io_(io), proxy_(proxy) {}

void server_down_policy::server_down(const backend::backend& b, const backend::server_ptr& s) {
  apply(b, s, false);
}

void server_down_policy::server_not_ready(const backend::backend& b, const backend::server_ptr& s) {
  apply(b, s, true);
}

void server_down_policy::server_removed(const backend::backend& b, const backend::server_ptr& s) {
  apply(b, s, false);
}

void server_down_policy::server_up(const backend::server& s) {
  const auto it = drains_.find(&s);
  if (it == drains_.end()) return;
  it->second.timer->cancel();
  drains_.erase(it);
  log::info("drain called off: server is up", {{"server", s.name()}});
}

void server_down_policy::apply(const backend::backend& b, const backend::server_ptr& s, bool not_ready) {
  const auto& cfg = b.config();
  switch (cfg.on_server_down) {
    case config::on_server_down_policy::keep:
      return;
    case config::on_server_down_policy::close:
      log::info("closing sessions", {{"backend", b.name()}, {"server", s->name()},
                                     {"sessions", s->active_sessions()}});
      proxy_.close_sessions(s, duration(0));
      return;
    case config::on_server_down_policy::drain: {
      if (const auto it = drains_.find(s.get()); it != drains_.end()) {
        // Already waiting: a not_ready server that then goes down waits the shorter grace.
        if (!it->second.not_ready || not_ready) return;
        it->second.timer->cancel();
        drains_.erase(it);
      }
      const auto grace = not_ready ? cfg.drain.not_ready_grace : cfg.drain.grace;
      auto timer = std::make_unique<boost::asio::steady_timer>(io_, grace);
      const auto spread = cfg.drain.spread;
      const auto backend_name = b.name();
      timer->async_wait([this, s, spread, backend_name](const boost::system::error_code& ec) {
        if (ec) return;  // called off, or shutting down
        log::info("draining sessions", {{"backend", backend_name}, {"server", s->name()},
                                        {"sessions", s->active_sessions()},
                                        {"spread", format_duration(spread)}});
        proxy_.close_sessions(s, spread);
        drains_.erase(s.get());
      });
      drains_[s.get()] = {std::move(timer), not_ready};
      return;
    }
  }
}

void server_down_policy::stop() {
  for (auto& [server, p] : drains_) p.timer->cancel();
  drains_.clear();
}

}  // namespace cplb::app
