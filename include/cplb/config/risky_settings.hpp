#pragma once
#include <string>
#include <vector>

#include "cplb/config/config.hpp"

namespace cplb::config {

/// Valid settings that expose a secret: a bearer token sent over plain HTTP, or over TLS without
/// verifying whom it goes to. One `FILE: key.path: warning: what` line each, for --check and the
/// start-up log.
std::vector<std::string> risky_settings(const config& cfg);

}  // namespace cplb::config
