#include "cplb/backend/backend.hpp"

namespace cplb::backend {
namespace {

// The server of `previous` that `cfg` describes unchanged (same name and address), or null.
server_ptr reusable(const backend* previous, const config::server_config& cfg) {
  if (previous == nullptr) return nullptr;
  for (const auto& s : previous->servers())
    if (s->name() == cfg.name && s->address() == cfg.address) return s;
  return nullptr;
}

}  // namespace

backend_ptr backend_set::find(const std::string& name) const {
  for (const auto& b : backends_)
    if (b->name() == name) return b;
  return nullptr;
}

std::shared_ptr<const backend_set> backend_set::build(const config::config& cfg,
                                                      const backend_set* previous,
                                                      unsigned worker_count) {
  auto set = std::make_shared<backend_set>();
  set->backends_.reserve(cfg.backends.size());
  for (const auto& bc : cfg.backends) {
    const backend_ptr old = previous != nullptr ? previous->find(bc.name) : nullptr;
    std::vector<server_ptr> servers;
    servers.reserve(bc.servers.size());
    for (const auto& sc : bc.servers) {
      server_ptr s = reusable(old.get(), sc);
      servers.push_back(s ? std::move(s) : std::make_shared<server>(sc, worker_count));
    }
    set->backends_.push_back(std::make_shared<const backend>(bc, std::move(servers)));
  }
  return set;
}

void backend_set::commit() const noexcept {
  for (const auto& b : backends_)
    for (std::size_t i = 0; i < b->servers().size(); ++i)
      b->servers()[i]->set_weight(b->config().servers[i].weight);
}

}  // namespace cplb::backend
