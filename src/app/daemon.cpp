#include "daemon.hpp"

#include <boost/asio/post.hpp>

#include <csignal>
#include <set>
#include <thread>

#include "cplb/app/fd_limit.hpp"
#include "cplb/config/load.hpp"
#include "cplb/core/log.hpp"

namespace cplb::app {

namespace asio = boost::asio;

namespace {

unsigned worker_count(unsigned configured) {
  if (configured > 0) return configured;
  return std::max(1u, std::thread::hardware_concurrency());
}

std::size_t fitted_max_connections(std::size_t wanted) {
  const auto budget = raise_fd_limit(wanted);
  if (budget.lowered)
    log::warn("max_connections lowered to fit the open-files limit",
              {{"configured", wanted}, {"effective", budget.max_connections},
               {"nofile_limit", budget.fd_limit}});
  return budget.max_connections;
}

}  // namespace

daemon::daemon(const options& opts, config::config cfg)
    : options_(opts), config_(std::move(cfg)), workers_(worker_count(config_.global.workers)) {}

daemon::~daemon() = default;

int daemon::run() {
  try {
    start();
  } catch (const std::exception& e) {
    log::error("cannot start", {{"error", e.what()}});
    if (admin_) admin_->stop();
    if (proxy_) proxy_->stop();
    return exit_runtime_failure;
  }
  control_.run();
  return exit_ok;
}

void daemon::start() {
  const auto max_connections = fitted_max_connections(config_.global.max_connections);
  proxy_ = std::make_unique<proxy::proxy>(
      workers_, max_connections, [this](const backend::server_ptr& server, backend::down_reason why) {
        // Passive detection: hand the failure to the control thread, which owns health state.
        asio::post(control_, [this, server, why] {
          if (checker_) checker_->report_connect_failure(server, why, backend::to_string(why));
        });
      });
  down_policy_ = std::make_unique<server_down_policy>(control_, *proxy_);
  checker_ = std::make_unique<health::checker>(
      control_, health::checker_listener{
                    [this](const backend::backend& b, const backend::server_ptr& s,
                           backend::server_state, backend::server_state to) { on_transition(b, s, to); },
                    [this](const backend::backend& b, backend::server& s, const health::probe_result& r) {
                      metrics_.on_probe(b, s, r);
                    }});

  backends_ = backend::backend_set::build(config_, nullptr, workers_);
  runtime_ = proxy::runtime::build(config_, backends_, nullptr, workers_);
  metrics_.set_runtime(runtime_);
  loaded_at_ = std::chrono::system_clock::now();
  metrics_.on_config_loaded(loaded_at_);
  start_admin();
  checker_->apply(backends_);
  proxy_->start(runtime_);
  if (!config_.vrrp_instances.empty()) {  // after the listeners: a new master serves at once
    make_vrrp_group();
    vrrp_->start(config_.vrrp_instances);
    publish_vrrp_status();
  }
  signals_.add(SIGHUP);
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  wait_signals();
  log::info("cplb started", {{"config", config_.file}, {"workers", workers_},
                             {"frontends", config_.frontends.size()},
                             {"max_connections", max_connections}});
}

void daemon::start_admin() {
  admin_ = std::make_unique<admin::server>(
      control_, config_.admin.listen,
      admin::handlers{
          [this] { return metrics_.serialize(); },
          [this] {
            return stopping_ ? admin::health_verdict{false, "shutting down"}
                             : admin::check_health(runtime_.get());
          },
          [this] {
            return admin::status_json({runtime_.get(), metrics_.vrrp(), config_.file, loaded_at_});
          }});
  admin_->start();
}

void daemon::reload_failed() {
  log::error("reload failed: the previous configuration keeps serving");
  metrics_.on_reload(false, std::chrono::system_clock::now());
}

void daemon::wait_signals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP && !stopping_) reload();
    else if (signo != SIGHUP) begin_shutdown();
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
  auto next = std::get<config::config>(std::move(loaded));
  if (next.global.workers != config_.global.workers) {
    log::warn("global.workers changes only on restart: keeping the running value",
              {{"running", config_.global.workers}, {"configured", next.global.workers}});
    next.global.workers = config_.global.workers;
  }

  auto backends = backend::backend_set::build(next, backends_.get(), workers_);
  auto rt = proxy::runtime::build(next, backends, runtime_.get(), workers_);
  try {
    checker_->apply(backends);  // changes nothing when it throws
  } catch (const std::exception& e) {
    log::error("reload rejected", {{"error", e.what()}});
    return reload_failed();
  }
  std::string error;
  if (!proxy_->update(rt, error)) {
    log::error("reload rejected", {{"error", error}});
    try {
      checker_->apply(backends_);  // back to probing the servers that keep serving
    } catch (const std::exception& e) {
      log::error("health checks of the previous configuration could not be restored", {{"error", e.what()}});
    }
    return reload_failed();
  }
  if (next.global.max_connections != config_.global.max_connections)
    proxy_->set_max_connections(fitted_max_connections(next.global.max_connections));
  retire_removed_servers(*backends_, *backends);
  backends_ = std::move(backends);
  runtime_ = std::move(rt);
  config_ = std::move(next);
  metrics_.set_runtime(runtime_);
  loaded_at_ = std::chrono::system_clock::now();
  metrics_.on_reload(true, loaded_at_);
  if (std::string admin_error; !admin_->rebind(config_.admin.listen, admin_error))
    log::error("reload: the admin server stays on its old address", {{"error", admin_error}});
  reconfigure_vrrp(config_.vrrp_instances);
  update_vrrp_tracking();
  log::info("reload done", {{"config", config_.file}, {"frontends", config_.frontends.size()},
                            {"backends", config_.backends.size()}});
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
        down_policy_->server_removed(*old_backend, server);
      }
    }
  }
}

void daemon::on_transition(const backend::backend& b, const backend::server_ptr& s,
                           backend::server_state to) {
  if (to == backend::server_state::down) down_policy_->server_down(b, s);
  if (to == backend::server_state::up) down_policy_->server_up(*s);
  note_all_down(b);
  update_vrrp_tracking();
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
  proxy_->stop();
  admin_->stop();
  signals_.cancel();
  log::info("stopped");
}

// VRRP wiring -------------------------------------------------------------------------------

void daemon::make_vrrp_group() {
  vrrp_ = std::make_unique<vrrp::group>(
      control_, vrrp::group_listener{[this](const std::string& instance, vrrp::state from, vrrp::state to,
                                            vrrp::cause why) {
        log::info("vrrp transition", {{"instance", instance}, {"from", vrrp::to_string(from)},
                                      {"to", vrrp::to_string(to)}, {"cause", vrrp::to_string(why)}});
        metrics_.on_vrrp_transition(instance, vrrp::to_string(to));
        publish_vrrp_status();
      }});
}

void daemon::publish_vrrp_status() {
  std::vector<metrics::vrrp_status> out;
  if (vrrp_)
    for (const auto& i : vrrp_->status())
      out.push_back({i.name, vrrp::to_string(i.current), i.effective_priority});
  metrics_.set_vrrp(std::move(out));
}

void daemon::reconfigure_vrrp(const std::vector<config::vrrp_instance_config>& instances) {
  if (!vrrp_ && instances.empty()) return;
  if (!vrrp_) make_vrrp_group();
  std::string error;
  if (!vrrp_->reconfigure(instances, error))
    log::error("reload: vrrp instances not updated: the running ones keep going", {{"error", error}});
  publish_vrrp_status();
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
