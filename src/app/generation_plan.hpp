#pragma once
#include <memory>

#include "cplb/admin/server.hpp"
#include "cplb/anycast/device.hpp"
#include "cplb/app/fd_limit.hpp"
#include "cplb/backend/backend.hpp"
#include "cplb/config/config.hpp"
#include "cplb/generation/generation.hpp"
#include "cplb/health/checker.hpp"
#include "cplb/proxy/proxy.hpp"
#include "cplb/vrrp/group.hpp"

namespace cplb::app {

/// A config generation made ready by daemon::prepare, before anything live has changed: every
/// file read, every socket bound. daemon::commit swaps it in; dropping it closes what it opened.
struct generation_plan {
  config::config config;
  unsigned configured_workers = 0;                      ///< as the file says (kept on reload)
  config::data_path configured_path = config::data_path::automatic;  ///< likewise
  fd_budget connections;                                ///< max_connections fitted to the fd limit
  std::shared_ptr<const backend::backend_set> backends;
  generation::snapshot_ptr snapshot;
  health::check_plan checks;
  proxy::prepared_listeners listeners;
  admin::prepared_rebind admin;
  std::unique_ptr<vrrp::group> new_vrrp_group;  ///< the first vrrp_instances: a group to hold them
  vrrp::group::plan_ptr vrrp;                   ///< null when there are no instances, nor were
  std::unique_ptr<anycast::device> anycast_device;  ///< the first `anycast:` entries: their device
};

}  // namespace cplb::app
