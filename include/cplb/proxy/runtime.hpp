#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "cplb/backend/backend.hpp"
#include "cplb/config/config.hpp"
#include "cplb/core/owned_counter.hpp"

namespace cplb::proxy {

/// Data-path counters of one frontend on one worker; only that worker writes them (relaxed load
/// and store, no read-modify-write). Readers sum the slots.
struct alignas(64) frontend_worker_counters {
  std::atomic<std::uint64_t> connections{0};         ///< accepted client connections
  std::atomic<std::uint64_t> rejected_max{0};        ///< closed at once: over max_connections
  std::atomic<std::uint64_t> rejected_no_server{0};  ///< closed at once: no eligible server
  std::atomic<std::uint64_t> accept_pauses{0};       ///< accepting paused: out of descriptors
  std::atomic<std::int64_t> active{0};               ///< sessions open on this worker
};

/// Totals of a frontend over all workers.
struct frontend_totals {
  std::uint64_t connections = 0;
  std::uint64_t rejected_max = 0;
  std::uint64_t rejected_no_server = 0;
  std::uint64_t accept_pauses = 0;
  std::int64_t active = 0;
};

/// The counters of one frontend, kept across reloads for as long as the frontend's name lives.
class frontend_stats {
 public:
  explicit frontend_stats(unsigned worker_count)
      : slots_(std::make_unique<frontend_worker_counters[]>(worker_count)), count_(worker_count) {}
  /// The slot owned by worker `index`.
  frontend_worker_counters& worker(unsigned index) { return slots_[index]; }
  /// Sum over all workers.
  frontend_totals totals() const;

 private:
  std::unique_ptr<frontend_worker_counters[]> slots_;
  unsigned count_;
};

/// One frontend of a config generation, resolved to its backend.
struct frontend_runtime {
  config::frontend_config config;
  backend::backend_ptr backend;
  std::shared_ptr<frontend_stats> stats;
};

/// What workers serve: an immutable snapshot, replaced as a whole on reload.
struct runtime {
  std::vector<frontend_runtime> frontends;
  std::shared_ptr<const backend::backend_set> backends;

  /// Builds the runtime of `cfg` on `backends`, keeping the stats of frontends that `previous`
  /// (may be null) already had under the same name.
  static std::shared_ptr<const runtime> build(const config::config& cfg,
                                              std::shared_ptr<const backend::backend_set> backends,
                                              const runtime* previous, unsigned worker_count);
};

}  // namespace cplb::proxy
