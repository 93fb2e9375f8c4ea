#include "daemon.hpp"

#include <boost/asio/post.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <thread>

#include "cplb/admin/health.hpp"
#include "cplb/admin/status.hpp"
#include "cplb/config/load.hpp"
#include "cplb/core/log.hpp"
#include "predecessor_watch.hpp"
#include "systemd_notify.hpp"
#include "upgrade_attempt.hpp"

namespace cplb::app {

namespace asio = boost::asio;

namespace {

unsigned worker_count(unsigned configured) {
  if (configured > 0) return configured;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

daemon::daemon(const options& opts, config::config cfg, command_line cmd,
               std::unique_ptr<upgrade_channel> takeover)
    : options_(opts),
      command_(std::move(cmd)),
      takeover_(std::move(takeover)),
      config_(std::move(cfg)),
      workers_(worker_count(config_.global.workers)) {}

daemon::~daemon() = default;

int daemon::run() {
  try {
    start();
  } catch (const std::exception& e) {
    log::error("cannot start", {{"error", e.what()}});
    if (takeover_) {
      std::string ignored;
      takeover_->send(upgrade_message::refused, encode_text(e.what()), {}, std::chrono::seconds(1), ignored);
    }
    if (admin_) admin_->stop();
    if (proxy_) proxy_->stop();
    return exit_runtime_failure;
  }
  try {
    control_.run();
  } catch (const std::exception& e) {
    // Nothing on the control thread should throw this far; if something does, exit non-zero
    // (systemd restarts cplb, the VRRP peer takes the VIP) rather than limp on.
    log::error("fatal error on the control thread: exiting", {{"error", e.what()}});
    std::_Exit(exit_runtime_failure);
  }
  return exit_ok;
}

void daemon::start() {
  // Caught from the first step, so a signal sent as soon as "cplb started" is logged (or earlier)
  // waits for the control loop instead of killing the process with the default action.
  signals_.add(SIGHUP);
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.add(SIGUSR2);
  if (takeover_) receive_takeover_state();  // sets workers_ to the old process's count
  proxy_ = std::make_unique<proxy::proxy>(
      workers_, config_.global.max_connections,
      [this](const backend::server_ptr& server, backend::down_reason why) {
        // Passive detection: hand the failure to the control thread, which owns health state.
        asio::post(control_, [this, server, why] {
          if (checker_) checker_->report_connect_failure(server, why, backend::to_string(why));
        });
      });
  open_data_path();
  metrics_.set_buffer_memory_source([this] { return static_cast<double>(proxy_->buffered_bytes()); });
  metrics_.set_worker_source([this] {
    std::vector<metrics::worker_sample> out;
    for (const auto& w : proxy_->worker_loads()) out.push_back({w.active_sessions, w.bytes, w.cpu_seconds});
    return out;
  });
  down_policy_ = std::make_unique<server_down_policy>(control_, *proxy_);
  slow_start_ = std::make_unique<slow_starter>(control_);
  rebalancer_ = std::make_unique<rebalancer>(control_, *proxy_);
  liveness_ = std::make_unique<liveness>(control_, *proxy_);
  checker_ = std::make_unique<health::checker>(
      control_, health::checker_observer{
                    [this](const backend::backend& b, const backend::server_ptr& s,
                           backend::server_state from, backend::server_state to) {
                      on_transition(b, s, from, to);
                    },
                    [this](const backend::backend& b, backend::server& s, const health::probe_result& r) {
                      metrics_.on_probe(b, s, r.passed, r.took);
                    }});
  admin_ = std::make_unique<admin::server>(
      control_, config_.admin.listen,
      admin::handlers{
          [this] { return metrics_.serialize(); },
          [this] {
            return stopping_ ? admin::health_verdict{false, "shutting down"}
                             : admin::check_health(generation_.get());
          },
          [this] { return liveness_->verdict(); },
          [this] {
            return admin::status_json(
                {generation_.get(), metrics_.vrrp(), metrics_.anycast(), config_.file, loaded_at_, ::getpid(),
                 started_at_});
          }});

  if (takeover_) {
    proxy_->inherit_listeners(std::move(inherited_->listeners));
    admin_->inherit_listener(inherited_->admin_address, std::exchange(inherited_->admin_fd, -1));
    checker_->inherit(std::move(inherited_->health));
  }

  std::vector<std::string> problems;
  auto plan = prepare(config_, problems);
  if (!plan) {
    // run() logs the last one as it logs any other failure to start.
    for (std::size_t i = 0; i + 1 < problems.size(); ++i) log::error("cannot start", {{"error", problems[i]}});
    throw std::runtime_error(problems.back());
  }
  commit(std::move(*plan));
  proxy_->start();
  liveness_->start();
  wait_signals();
  if (takeover_) finish_takeover();
  systemd::ready();  // the frontends' and admin's sockets listen, and the workers run
}

void daemon::reload_failed() {
  log::error("reload failed: the previous configuration keeps serving");
  metrics_.on_reload(false, std::chrono::system_clock::now());
}

void daemon::wait_signals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP && upgrade_) {
      upgrade_->reload_requested = true;  // applied by whichever process serves afterwards
      log::info("reload deferred until the upgrade ends");
    } else if (signo == SIGHUP && !stopping_) {
      systemd::reloading();
      reload();
      systemd::ready();
    } else if (signo == SIGUSR2) {
      begin_upgrade();
    } else if (signo != SIGHUP) {
      if (upgrade_) upgrade_failed("cplb is stopping");
      begin_shutdown();
    }
    if (!stopping_) wait_signals();
  });
}

void daemon::reload() {
  log::info("reloading", {{"config", options_.config_file}});
  auto loaded = config::load_file(options_.config_file);
  if (auto* problems = std::get_if<std::vector<config::problem>>(&loaded)) {
    for (const auto& p : *problems)
      log::error("reload rejected", {{"problem", p.to_string()}});
    return reload_failed();
  }
  std::vector<std::string> problems;
  auto plan = prepare(std::get<config::config>(std::move(loaded)), problems);
  if (!plan) {
    for (const auto& p : problems) log::error("reload rejected", {{"problem", p}});
    return reload_failed();
  }
  commit(std::move(*plan));
}

void daemon::retire_removed_servers(const backend::backend_set& old_set,
                                    const backend::backend_set& new_set) {
  for (const auto& old_backend : old_set.all()) {
    const auto now = new_set.find(old_backend->name());
    for (const auto& server : old_backend->servers()) {
      bool kept = false;
      if (now)
        for (const auto& s : now->servers()) kept = kept || s == server;
      if (!kept) {
        log::info("server removed", {{"backend", old_backend->name()}, {"server", server->name()},
                                     {"sessions", server->active_sessions()}});
        slow_start_->server_gone(*server);
        down_policy_->server_removed(*old_backend, server);
      }
    }
  }
}

void daemon::on_transition(const backend::backend& b, const backend::server_ptr& s,
                           backend::server_state from, backend::server_state to) {
  switch (to) {
    case backend::server_state::up:
      down_policy_->server_up(*s);
      slow_start_->server_up(b, s, from);
      break;
    case backend::server_state::not_ready:
      slow_start_->server_gone(*s);
      down_policy_->server_not_ready(b, s);
      break;
    case backend::server_state::down:
      slow_start_->server_gone(*s);
      down_policy_->server_down(b, s);
      break;
    case backend::server_state::unchecked:
      break;
  }
  note_all_down(b);
  update_vrrp_tracking();
  update_anycast_tracking();
}

void daemon::note_all_down(const backend::backend& b) {
  const bool now = b.all_down();
  bool& was = all_down_[b.name()];
  if (now == was) return;
  was = now;
  const bool reachable = b.config().all_down == config::all_down_policy::any_reachable;
  if (now)
    log::warn("backend all down", {{"backend", b.name()},
                                   {"action", reachable ? "any_reachable: using servers that accept TCP"
                                                        : "reject: refusing new connections"}});
  else
    log::info("backend recovered", {{"backend", b.name()}});
}

void daemon::begin_shutdown() {
  if (stopping_) return;
  stopping_ = true;
  systemd::stopping();
  // The routes go first: the routers stop sending new connections before anything else stops.
  if (anycast_) return withdraw_anycast_then(&daemon::release_vips_then_stop);
  release_vips_then_stop();
}

void daemon::release_vips_then_stop() {
  if (vrrp_) {  // keep serving until the peer holds the VIPs
    log::info("shutting down: handing the virtual IPs over first");
    vrrp_->shutdown([this] { stop_serving(); });
    return;
  }
  stop_serving();
}

void daemon::stop_serving() {
  proxy_->stop_accepting();
  log::info("shutting down: no new connections", {{"sessions", proxy_->active_sessions()},
                                                   {"grace", format_duration(config_.global.shutdown_grace)}});
  checker_->stop();
  down_policy_->stop();
  slow_start_->stop();
  rebalancer_->stop();
  wait_sessions_then_stop(std::chrono::steady_clock::now() + config_.global.shutdown_grace);
}

void daemon::wait_sessions_then_stop(std::chrono::steady_clock::time_point deadline) {
  if (proxy_->active_sessions() == 0 || std::chrono::steady_clock::now() >= deadline)
    return finish_shutdown();
  shutdown_timer_.expires_after(std::chrono::milliseconds(50));
  shutdown_timer_.async_wait([this, deadline](const boost::system::error_code& ec) {
    if (!ec) wait_sessions_then_stop(deadline);
  });
}

void daemon::finish_shutdown() {
  const auto left = proxy_->active_sessions();
  if (left > 0) log::warn("shutdown grace over: closing sessions", {{"sessions", left}});
  liveness_->stop();  // before the workers stop, which leaves their no-ops unrun
  anycast_resync_timer_.cancel();
  proxy_->stop();
  admin_->stop();
  signals_.cancel();
  log::info("stopped");
}

// VRRP wiring -------------------------------------------------------------------------------

std::unique_ptr<vrrp::group> daemon::make_vrrp_group() {
  return std::make_unique<vrrp::group>(
      control_, vrrp::group_observer{[this](const std::string& instance, vrrp::state from, vrrp::state to,
                                            vrrp::cause why) {
        log::info("vrrp transition", {{"instance", instance}, {"from", vrrp::to_string(from)},
                                      {"to", vrrp::to_string(to)}, {"cause", vrrp::to_string(why)}});
        // Resuming a handed-over master is no change of state: not counted as one.
        if (why != vrrp::cause::inherited) metrics_.on_vrrp_transition(instance, to);
        publish_vrrp_status();
      },
      [this](const std::string& instance, const char* reason) { metrics_.on_vrrp_drop(instance, reason); },
      [this](const std::string& instance) { metrics_.on_vrrp_split_brain(instance); }});
}

void daemon::publish_vrrp_status() {
  std::vector<metrics::vrrp_status> out;
  if (vrrp_)
    for (const auto& i : vrrp_->status()) out.push_back({i.name, i.current, i.effective_priority});
  metrics_.set_vrrp(std::move(out));
}

void daemon::update_vrrp_tracking() {
  if (!vrrp_ || !backends_) return;
  std::set<std::string> down;
  for (const auto& b : backends_->all()) {
    bool checked = true;  // a server not checked yet does not count as down
    for (const auto& s : b->servers()) checked = checked && s->state() != backend::server_state::unchecked;
    if (checked && b->all_down()) down.insert(b->name());
  }
  vrrp_->set_backends_down(down);
  publish_vrrp_status();
}

}  // namespace cplb::app
