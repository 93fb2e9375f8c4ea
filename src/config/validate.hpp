#pragma once
#include "cplb/config/config.hpp"
#include "reader.hpp"

// Internal to the config module: the checks that span entries.
namespace cplb::config::detail {

/// Reports duplicate names, addresses and IDs, overlapping listen addresses, and references to
/// backends that are not defined. Values that did not decode cleanly are skipped, so one mistake
/// is reported once.
void validate(reader& r, const config& c);

}  // namespace cplb::config::detail
