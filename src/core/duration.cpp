#include "cplb/core/duration.hpp"

#include <charconv>

namespace cplb {

std::optional<duration> parse_duration(std::string_view text) {
  std::int64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [unit, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || unit == first || value < 0) return std::nullopt;

  const std::string_view suffix(unit, static_cast<std::size_t>(last - unit));
  std::int64_t scale = 0;
  if (suffix == "ms") scale = 1;
  else if (suffix == "s") scale = 1000;
  else if (suffix == "m") scale = 60 * 1000;
  else if (suffix == "h") scale = 60 * 60 * 1000;
  else return std::nullopt;

  constexpr std::int64_t max_ms = std::int64_t{1} << 50;  // far beyond any sane timeout
  if (value > max_ms / scale) return std::nullopt;
  return duration(value * scale);
}

std::string format_duration(duration d) {
  const auto ms = d.count();
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace cplb
