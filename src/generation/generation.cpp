#include "cplb/generation/generation.hpp"

namespace cplb::generation {

frontend_totals frontend_stats::totals() const {
  return slots_.sum<frontend_totals>([](frontend_totals& t, const frontend_worker_counters& s) {
    t.connections += s.connections.load(std::memory_order_relaxed);
    t.rejected_max += s.rejected_max.load(std::memory_order_relaxed);
    t.rejected_no_server += s.rejected_no_server.load(std::memory_order_relaxed);
    t.rejected_per_source += s.rejected_per_source.load(std::memory_order_relaxed);
    t.accept_pauses += s.accept_pauses.load(std::memory_order_relaxed);
    t.active += s.active.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < session_end_count; ++i)
      t.ends[i] += s.ends[i].load(std::memory_order_relaxed);
  });
}

std::shared_ptr<const snapshot> snapshot::build(const config::config& cfg,
                                                std::shared_ptr<const backend::backend_set> backends,
                                                const snapshot* previous, unsigned workers) {
  auto next = std::make_shared<snapshot>();
  next->backends = std::move(backends);
  for (const auto& f : cfg.frontends) {
    std::shared_ptr<frontend_stats> stats;
    if (previous)
      for (const auto& old : previous->frontends)
        if (old.config.name == f.name) stats = old.stats;
    if (!stats) stats = std::make_shared<frontend_stats>(workers);
    next->frontends.push_back({f, next->backends->find(f.backend), std::move(stats)});
  }
  return next;
}

}  // namespace cplb::generation
