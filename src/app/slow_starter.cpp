#include "slow_starter.hpp"

#include "cplb/backend/slow_start.hpp"
#include "cplb/core/log.hpp"

namespace cplb::app {

namespace {

/// How often a ramping weight is raised: fine enough for a linear share at any window.
constexpr std::chrono::milliseconds ramp_step{100};

}  // namespace

slow_starter::slow_starter(boost::asio::io_context& io) : io_(io), timer_(io) {}

void slow_starter::server_up(const backend::backend& b, const backend::server_ptr& s,
                             backend::server_state from) {
  const bool added = added_.erase(s.get()) > 0;
  const auto window = b.config().slow_start;
  if (window.count() == 0 || (from == backend::server_state::unchecked && !added)) return;
  s->set_ramp(0);
  ramps_[s.get()] = {s, std::chrono::steady_clock::now(), window};
  log::info("slow start", {{"backend", b.name()}, {"server", s->name()},
                           {"window", format_duration(window)}});
  if (!ticking_) tick();
}

void slow_starter::server_gone(const backend::server& s) {
  added_.erase(&s);
  if (const auto it = ramps_.find(&s); it != ramps_.end()) {
    it->second.server->set_ramp(backend::ramp_full);
    ramps_.erase(it);
  }
}

void slow_starter::stop() {
  timer_.cancel();
  ramps_.clear();
}

void slow_starter::tick() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = ramps_.begin(); it != ramps_.end();) {
    const auto r = backend::slow_start_ramp(now - it->second.since, it->second.window);
    it->second.server->set_ramp(r);
    it = r == backend::ramp_full ? ramps_.erase(it) : std::next(it);
  }
  ticking_ = !ramps_.empty();
  if (!ticking_) return;
  timer_.expires_after(ramp_step);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

}  // namespace cplb::app
