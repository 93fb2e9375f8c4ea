#include "cplb/proxy/runtime.hpp"

namespace cplb::proxy {

frontend_totals frontend_stats::totals() const {
  frontend_totals t;
  for (unsigned i = 0; i < count_; ++i) {
    const auto& s = slots_[i];
    t.connections += s.connections.load(std::memory_order_relaxed);
    t.rejected_max += s.rejected_max.load(std::memory_order_relaxed);
    t.rejected_no_server += s.rejected_no_server.load(std::memory_order_relaxed);
    t.accept_pauses += s.accept_pauses.load(std::memory_order_relaxed);
    t.active += s.active.load(std::memory_order_relaxed);
  }
  return t;
}

std::shared_ptr<const runtime> runtime::build(const config::config& cfg,
                                              std::shared_ptr<const backend::backend_set> backends,
                                              const runtime* previous, unsigned worker_count) {
  auto rt = std::make_shared<runtime>();
  rt->backends = std::move(backends);
  for (const auto& f : cfg.frontends) {
    std::shared_ptr<frontend_stats> stats;
    if (previous)
      for (const auto& old : previous->frontends)
        if (old.config.name == f.name) stats = old.stats;
    if (!stats) stats = std::make_shared<frontend_stats>(worker_count);
    rt->frontends.push_back({f, rt->backends->find(f.backend), std::move(stats)});
  }
  return rt;
}

}  // namespace cplb::proxy
