// Anycast wiring: the device and announcer from the config, tracking from the health state, and
// SIGTERM's withdraw-first step (see docs/anycast.md).
#include <unistd.h>

#include <algorithm>
#include <system_error>

#include "cplb/core/log.hpp"
#include "daemon.hpp"

namespace cplb::app {

namespace {

/// How soon a route or address removed behind cplb's back is put back.
constexpr auto resync_interval = std::chrono::seconds(5);

}  // namespace

std::unique_ptr<anycast::device> daemon::prepare_anycast_device(const config::config& next,
                                                                std::string& error) {
  if (anycast_device_ || next.anycast.empty()) return nullptr;
  try {
    if (inherited_anycast_fd_ >= 0) return anycast::device::adopt(std::exchange(inherited_anycast_fd_, -1));
    return anycast::device::create();
  } catch (const std::system_error& e) {
    error = std::string("anycast: ") + e.what();
    return nullptr;
  }
}

void daemon::commit_anycast(std::unique_ptr<anycast::device> device) {
  if (device) {
    anycast_device_ = std::move(device);
    anycast_kernel_ = anycast::netlink_kernel(*anycast_device_);
    anycast_ = std::make_unique<anycast::announcer>(
        *anycast_kernel_, [this](const anycast::vip_status& vip, bool removed) { on_anycast_change(vip, removed); });
    log::info("anycast device ready", {{"device", anycast_device_->name()}});
    resync_anycast_periodically();
  }
  if (!anycast_) return;
  std::vector<anycast::announcement_settings> settings;
  for (const auto& a : config_.anycast) settings.push_back({a.name, a.virtual_ips, a.table, a.track_backends});
  update_anycast_tracking();  // health first, so that a VIP taken over is not withdrawn for a moment
  anycast_->configure(std::move(settings));
}

void daemon::update_anycast_tracking() {
  if (!anycast_ || !backends_) return;
  std::map<std::string, anycast::backend_health> health;
  for (const auto& b : backends_->all()) {
    bool up = false;
    bool unchecked = false;
    for (const auto& s : b->servers()) {
      up = up || s->state() == backend::server_state::up;
      unchecked = unchecked || s->state() == backend::server_state::unchecked;
    }
    health[b->name()] = up          ? anycast::backend_health::serving
                        : unchecked ? anycast::backend_health::unchecked
                                    : anycast::backend_health::down;
  }
  anycast_->set_backend_health(std::move(health));
}

void daemon::withdraw_anycast_then(void (daemon::*next)()) {
  duration delay{0};
  for (const auto& a : config_.anycast) delay = std::max(delay, a.withdraw_delay);
  anycast_->withdraw_all("shutting down");
  log::info("shutting down: anycast routes withdrawn, serving on while the routers converge",
            {{"withdraw_delay", format_duration(delay)}});
  shutdown_timer_.expires_after(delay);
  shutdown_timer_.async_wait([this, next](const boost::system::error_code& ec) {
    if (!ec) (this->*next)();
  });
}

void daemon::resync_anycast_periodically() {
  anycast_resync_timer_.expires_after(resync_interval);
  anycast_resync_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !anycast_) return;  // stopped, or handed over to a new process
    if (const auto put_back = anycast_->resync())
      log::warn("anycast: put back routes removed behind cplb's back", {{"count", put_back}});
    resync_anycast_periodically();
  });
}

void daemon::on_anycast_change(const anycast::vip_status& vip, bool removed) {
  if (vip.announced)
    log::info("anycast announced", {{"name", vip.name}, {"vip", vip.vip.to_string()}, {"table", vip.table}});
  else
    log::info(removed ? "anycast removed" : "anycast withdrawn",
              {{"name", vip.name}, {"vip", vip.vip.to_string()}, {"table", vip.table}, {"reason", vip.reason}});
  metrics_.set_anycast(anycast_->status());
}

}  // namespace cplb::app
