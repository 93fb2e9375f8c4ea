#pragma once
#include <optional>
#include <string_view>

#include "cplb/core/duration.hpp"

// Numbers as the inputs write them.
namespace cplb::app::migrate {

/// A decimal whole number within min..max, or nullopt.
std::optional<unsigned long> whole_number(std::string_view text, unsigned long min,
                                          unsigned long max);

/// A decimal whole number with an optional sign (`-2`, `+5`, `10`), or nullopt.
std::optional<long> signed_number(std::string_view text);

/// Seconds with an optional fraction (`1`, `0.1`, `1.25`), to the millisecond, or nullopt.
std::optional<duration> decimal_seconds(std::string_view text);

}  // namespace cplb::app::migrate
