// The reload transaction: prepare builds a generation touching nothing live, commit swaps it in.
// Start goes through it too, from an empty daemon. The order of commit is documented in
// docs/design.md.
#include "cplb/core/log.hpp"
#include "daemon.hpp"

namespace cplb::app {

std::optional<generation_plan> daemon::prepare(config::config next, std::vector<std::string>& problems) {
  generation_plan plan;
  plan.configured_workers = next.global.workers;
  plan.configured_path = next.global.path;
  if (started_) {
    next.global.workers = config_.global.workers;  // threads are not restarted
    next.global.path = config_.global.path;        // sessions stay where they move
  }

  if (!started_ || next.global.max_connections != config_.global.max_connections)
    plan.connections = raise_fd_limit(next.global.max_connections,
                                      fd_headroom(next, workers_, admin::limits{}.max_connections),
                                      proxy::bulk_pipes_per_worker * workers_);
  else
    plan.connections = {proxy_->max_connections(), 0, false, proxy_->bulk_pipes()};

  plan.backends = backend::backend_set::build(next, started_ ? backends_.get() : nullptr, workers_);
  plan.snapshot = generation::snapshot::build(next, plan.backends, generation_.get(), workers_);
  health::checker::prepare(plan.backends, plan.checks, problems);

  std::string error;
  if (!proxy_->prepare(*plan.snapshot, plan.listeners, error)) problems.push_back(error);
  if (!admin_->prepare_rebind(next.admin.listen, plan.admin, error)) problems.push_back(error);

  if (vrrp_ || !next.vrrp_instances.empty()) {
    vrrp::group* group = vrrp_.get();
    if (!group) group = (plan.new_vrrp_group = make_vrrp_group()).get();
    plan.vrrp = group->prepare(next.vrrp_instances, error);
    if (!plan.vrrp) problems.push_back(error);
  }
  plan.anycast_device = prepare_anycast_device(next, error);
  if (!plan.anycast_device && !anycast_device_ && !next.anycast.empty()) problems.push_back(error);
  if (!problems.empty()) return std::nullopt;
  plan.config = std::move(next);
  return plan;
}

void daemon::commit(generation_plan plan) noexcept {
  const bool reload = started_;
  if (plan.configured_workers != plan.config.global.workers)
    log::warn("global.workers changes only on restart: keeping the running value",
              {{"running", plan.config.global.workers}, {"configured", plan.configured_workers}});
  if (plan.configured_path != plan.config.global.path)
    log::warn("global.data_path changes only on restart: keeping the running value");
  if (plan.connections.lowered)
    log::warn("max_connections lowered to fit the open-files limit",
              {{"configured", plan.config.global.max_connections},
               {"effective", plan.connections.max_connections},
               {"nofile_limit", plan.connections.fd_limit}});

  // 1. Backends: carried-over servers take their new weights.
  plan.backends->commit();
  // 2. Health: new servers are probed at once, removed ones stop; kept ones keep their counts.
  checker_->commit(std::move(plan.checks));
  // 3. Proxy: the cap, then the generation and its listening sockets, posted to every worker.
  proxy_->set_max_connections(plan.connections.max_connections);
  proxy_->set_bulk_pipes(plan.connections.bulk_pipes);
  proxy_->set_max_buffer_memory(plan.config.global.max_buffer_memory);
  proxy_->commit(plan.snapshot, std::move(plan.listeners));
  // 4. Removed servers: their sessions follow on_server_down. Added ones slow-start when up.
  if (reload) {
    retire_removed_servers(*backends_, *plan.backends);
    for (const auto& b : plan.backends->all())
      for (const auto& s : b->servers())
        if (s->state() == backend::server_state::unchecked) slow_start_->added_by_reload(s.get());
  }
  backends_ = std::move(plan.backends);
  generation_ = std::move(plan.snapshot);
  config_ = std::move(plan.config);
  started_ = true;
  rebalancer_->watch(backends_);
  // 5. Metrics and /status read the new generation.
  metrics_.set_generation(generation_);
  loaded_at_ = std::chrono::system_clock::now();
  if (reload) metrics_.on_reload(true, loaded_at_);
  else metrics_.on_config_loaded(loaded_at_);
  // 6. Admin: the new address, if it changed.
  admin_->commit_rebind(std::move(plan.admin));
  // 7. VRRP last: a VIP is taken only once the listeners behind it exist. Taking over from an
  // old process, only once that one has stopped its instances (finish_takeover).
  if (takeover_) {
    held_vrrp_group_ = std::move(plan.new_vrrp_group);
    held_vrrp_plan_ = std::move(plan.vrrp);
  } else {
    if (plan.new_vrrp_group) vrrp_ = std::move(plan.new_vrrp_group);
    if (plan.vrrp) vrrp_->commit(std::move(plan.vrrp));
  }
  update_vrrp_tracking();
  publish_vrrp_status();
  // 8. Anycast: the VIPs are local at once, and routed as the tracked backends allow.
  commit_anycast(std::move(plan.anycast_device));

  if (reload)
    log::info("reload done", {{"config", config_.file}, {"frontends", config_.frontends.size()},
                              {"backends", config_.backends.size()}});
  else
    log::info("cplb started", {{"config", config_.file}, {"workers", workers_},
                               {"frontends", config_.frontends.size()},
                               {"max_connections", plan.connections.max_connections}});
}

}  // namespace cplb::app
