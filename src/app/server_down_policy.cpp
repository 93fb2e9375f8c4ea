#include "server_down_policy.hpp"

#include "cplb/core/log.hpp"

namespace cplb::app {

server_down_policy::server_down_policy(boost::asio::io_context& io, proxy::proxy& proxy)
    : io_(io), proxy_(proxy) {}

void server_down_policy::server_down(const backend::backend& b, const backend::server_ptr& s) {
  apply(b, s);
}

void server_down_policy::server_removed(const backend::backend& b, const backend::server_ptr& s) {
  apply(b, s);
}

void server_down_policy::server_up(const backend::server& s) {
  const auto it = drains_.find(&s);
  if (it == drains_.end()) return;
  it->second->cancel();
  drains_.erase(it);
  log::info("drain called off: server is up", {{"server", s.name()}});
}

void server_down_policy::apply(const backend::backend& b, const backend::server_ptr& s) {
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
      if (drains_.contains(s.get())) return;
      auto timer = std::make_unique<boost::asio::steady_timer>(io_, cfg.drain.grace);
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
      drains_.emplace(s.get(), std::move(timer));
      return;
    }
  }
}

void server_down_policy::stop() {
  for (auto& [server, timer] : drains_) timer->cancel();
  drains_.clear();
}

}  // namespace cplb::app
