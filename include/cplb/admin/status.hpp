#pragma once
#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include "cplb/anycast/announcer.hpp"
#include "cplb/metrics/vrrp_status.hpp"
#include "cplb/generation/generation.hpp"

namespace cplb::admin {

/// What /status reports.
struct status_input {
  const generation::snapshot* generation = nullptr;  ///< frontends and backends (null: none yet)
  std::span<const metrics::vrrp_status> vrrp;       ///< VRRP instances
  std::span<const anycast::vip_status> anycast;     ///< anycast VIPs
  std::string_view config_file;                     ///< the loaded config's path
  std::chrono::system_clock::time_point loaded_at;  ///< when it was loaded
  long pid = 0;                                     ///< the serving process (new after an upgrade)
  std::chrono::system_clock::time_point started_at; ///< when that process started
};

/// The /status document: `pid`, `started_at`, `config` {file, loaded_at (ISO 8601, UTC)}, `frontends` (name, listen,
/// backend, active_connections, totals), `backends` with their `servers` (name, address, state
/// unchecked|up|not_ready|down|draining, reason and reason_detail of the last failed check or null,
/// active_sessions, weight, totals), `vrrp_instances` (name, state, effective_priority), `anycast`
/// (one entry per VIP: name, vip, table, announced, reason it is withdrawn or null).
std::string status_json(const status_input& in);

}  // namespace cplb::admin
