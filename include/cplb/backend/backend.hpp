#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cplb/backend/picker.hpp"
#include "cplb/backend/server.hpp"
#include "cplb/config/config.hpp"

namespace cplb::backend {

/// A backend of one config generation: its settings and its servers. Immutable once built;
/// the servers' live state is in the servers themselves.
class backend {
 public:
  backend(config::backend_config cfg, std::vector<server_ptr> servers);

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

 private:
  config::backend_config config_;
  std::vector<server_ptr> servers_;
};

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
