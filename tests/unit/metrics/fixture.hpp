#pragma once
#include <memory>
#include <string>

#include "cplb/backend/backend.hpp"
#include "cplb/config/config.hpp"
#include "cplb/generation/generation.hpp"

// A small backend set and runtime built from a config made in code, for metrics and admin tests.
namespace cplb::metrics::test {

/// Workers of the test runtime: counters are written to both slots.
inline constexpr unsigned workers = 2;

/// Frontend `kube-apiserver` on backend `control-plane` (servers m1, m2, m3) and frontend
/// `etcd` on backend `etcd` (server e1).
config::config sample_config();

/// One config generation: its backend set and runtime.
struct test_generation {
  std::shared_ptr<const backend::backend_set> backends;
  cplb::generation::snapshot_ptr snapshot;

  /// Builds `cfg`, carrying servers and frontend stats over from `previous` (may be null).
  static test_generation build(const config::config& cfg, const test_generation* previous);
  /// The backend called `name` (must exist).
  const backend::backend& backend(const std::string& name) const;
  /// Server `name` of backend `backend_name` (must exist).
  backend::server& server(const std::string& backend_name, const std::string& name) const;
  /// The stats of frontend `name` (must exist).
  cplb::generation::frontend_stats& frontend(const std::string& name) const;
};

}  // namespace cplb::metrics::test
