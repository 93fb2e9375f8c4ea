#pragma once
#include <string>

#include "cplb/generation/generation.hpp"

namespace cplb::admin {

/// The answer of /healthz.
struct health_verdict {
  bool ok = false;     ///< 200 when true, 503 otherwise
  std::string reason;  ///< why not ok (empty when ok)
};

/// Ok while some frontend of `gen` (may be null: not started) has a backend with a server up.
health_verdict check_health(const generation::snapshot* gen);

}  // namespace cplb::admin
