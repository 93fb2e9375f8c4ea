#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cplb {

/// The one duration type of cplb: milliseconds are fine enough for every timeout we have.
using duration = std::chrono::milliseconds;

/// Parses `250ms`, `2s`, `1m`, `1h` (a whole number and one unit); nullopt when malformed.
std::optional<duration> parse_duration(std::string_view text);

/// Formats a duration the way parse_duration reads it, with the largest exact unit.
std::string format_duration(duration d);

}  // namespace cplb
