#include "numbers.hpp"

#include <charconv>
#include <cmath>

namespace cplb::app::migrate {

std::optional<unsigned long> whole_number(std::string_view text, unsigned long min,
                                          unsigned long max) {
  unsigned long n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || n < min || n > max)
    return std::nullopt;
  return n;
}

std::optional<long> signed_number(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  long n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return n;
}

std::optional<duration> decimal_seconds(std::string_view text) {
  double seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || seconds < 0 ||
      seconds > 1e6)
    return std::nullopt;
  return duration(std::llround(seconds * 1000));
}

}  // namespace cplb::app::migrate
