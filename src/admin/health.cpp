#include "cplb/admin/health.hpp"

namespace cplb::admin {

health_verdict check_health(const generation::snapshot* gen) {
  if (gen == nullptr || gen->frontends.empty()) return {false, "no frontend is serving"};
  for (const auto& f : gen->frontends)
    if (f.backend && !f.backend->all_down()) return {true, ""};
  return {false, "no frontend has a backend with a server up"};
}

}  // namespace cplb::admin
