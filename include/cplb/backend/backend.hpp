#pragma once
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "cplb/backend/picker.hpp"
#include "cplb/backend/server.hpp"
#include "cplb/config/config.hpp"

namespace cplb::backend {

/// A backend of one config generation: its settings, its servers and its picker. Immutable once
/// built, but for the picker's own state; the servers' live state is in the servers themselves.
class backend {
 public:
  backend(config::backend_config cfg, std::vector<server_ptr> servers);
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;

  /// The backend's name.
  const std::string& name() const { return config_.name; }
  /// Its settings.
  const config::backend_config& config() const { return config_; }
  /// Its servers, in config order.
  std::span<const server_ptr> servers() const { return servers_; }

  /// The servers a new session may go to, minus those in `tried`: the up ones, or when none is
  /// up and `all_down: any_reachable`, the reachable ones.
  server_mask eligible(server_mask tried) const;
  /// True when no server is up (so all_down applies).
  bool all_down() const;

  /// Picks a server among `eligible` for a new session and counts the session on it at once:
  /// its index, or -1 when `eligible` is empty. Any worker may call it. One pick at a time per
  /// backend (a short lock, once per session), so a burst spread over the workers stays even
  /// and round_robin rotates per backend, not per worker.
  int pick(server_mask eligible, std::uint64_t client_key) const;

 private:
  config::backend_config config_;
  std::vector<server_ptr> servers_;
  mutable std::mutex pick_mutex_;
  std::unique_ptr<picker> picker_;  ///< guarded by pick_mutex_
};

/// What /status and cplb_server_state call a server's state: its health state, or `draining`
/// while it is down with sessions that `on_server_down: drain` will close.
const char* displayed_state(const backend& b, const server& s);

/// Every value displayed_state() can return, for the metric's series.
inline constexpr const char* displayed_states[] = {"unchecked", "up", "not_ready", "down", "draining"};

using backend_ptr = std::shared_ptr<const backend>;

/// The backends of one config generation. `build` reuses the servers of the previous generation
/// whose backend name, server name and address are unchanged, so their health state and sessions
/// carry over a reload.
class backend_set {
 public:
  /// The backend called `name`, or nullptr.
  backend_ptr find(const std::string& name) const;
  /// All backends in config order.
  const std::vector<backend_ptr>& all() const { return backends_; }

  /// Builds the backends of `cfg`, reusing servers from `previous` (may be null). Changes
  /// nothing live: a reused server keeps its weight until `commit`.
  static std::shared_ptr<const backend_set> build(const config::config& cfg,
                                                  const backend_set* previous,
                                                  unsigned worker_count);

  /// Gives every server the weight this generation's config says (a reload's commit).
  void commit() const noexcept;

 private:
  std::vector<backend_ptr> backends_;
};

}  // namespace cplb::backend
