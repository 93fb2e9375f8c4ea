#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "cplb/backend/backend.hpp"
#include "cplb/config/config.hpp"
#include "cplb/core/per_worker.hpp"
#include "cplb/generation/session_end.hpp"
#include "cplb/generation/source_counts.hpp"

// A config generation as the workers, the metrics and /status read it: immutable once built by a
// reload's prepare step, swapped in whole by its commit.
namespace cplb::generation {

/// Data-path counters of one frontend on one worker; only that worker writes them (add_owned).
struct alignas(64) frontend_worker_counters {
  std::atomic<std::uint64_t> connections{0};         ///< accepted client connections
  std::atomic<std::uint64_t> rejected_max{0};        ///< closed at once: over max_connections
  std::atomic<std::uint64_t> rejected_no_server{0};  ///< closed at once: no eligible server
  std::atomic<std::uint64_t> rejected_per_source{0}; ///< closed at once: over max_connections_per_source
  std::atomic<std::uint64_t> accept_pauses{0};       ///< accepting paused: out of descriptors
  std::atomic<std::int64_t> active{0};               ///< sessions open on this worker
  std::array<std::atomic<std::uint64_t>, session_end_count> ends{};  ///< by session_end

  /// Counts one session end.
  void count_end(session_end why) { add_owned(ends[static_cast<std::size_t>(why)], 1); }
};

/// Totals of a frontend over all workers.
struct frontend_totals {
  std::uint64_t connections = 0;
  std::uint64_t rejected_max = 0;
  std::uint64_t rejected_no_server = 0;
  std::uint64_t rejected_per_source = 0;
  std::uint64_t accept_pauses = 0;
  std::int64_t active = 0;
  std::array<std::uint64_t, session_end_count> ends{};
};

/// The counters of one frontend, kept across reloads for as long as the frontend's name lives.
class frontend_stats {
 public:
  explicit frontend_stats(unsigned workers) : slots_(workers) {}
  /// The slot owned by worker `index`.
  frontend_worker_counters& worker(unsigned index) { return slots_[index]; }
  /// Sum over all workers.
  frontend_totals totals() const;
  /// Sessions per client address (max_connections_per_source).
  source_counts& sources() { return sources_; }

 private:
  source_counts sources_;
  per_worker<frontend_worker_counters> slots_;
};

/// One frontend of a generation, resolved to its backend.
struct frontend {
  config::frontend_config config;
  backend::backend_ptr backend;
  std::shared_ptr<frontend_stats> stats;
};

/// What the workers serve and the metrics and /status show.
struct snapshot {
  std::vector<frontend> frontends;
  std::shared_ptr<const backend::backend_set> backends;

  /// The snapshot of `cfg` on `backends`, keeping the stats of frontends that `previous` (may be
  /// null) had under the same name.
  static std::shared_ptr<const snapshot> build(const config::config& cfg,
                                               std::shared_ptr<const backend::backend_set> backends,
                                               const snapshot* previous, unsigned workers);
};

using snapshot_ptr = std::shared_ptr<const snapshot>;

}  // namespace cplb::generation
