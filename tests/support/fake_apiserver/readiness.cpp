#include "readiness.hpp"

namespace cplb::fake_apiserver {

std::optional<readiness> parse_readiness(std::string_view text) {
  if (text == "ok") return readiness::ok;
  if (text == "500") return readiness::error;
  if (text == "hang") return readiness::hang;
  if (text == "close") return readiness::close;
  return std::nullopt;
}

std::string_view to_string(readiness mode) {
  switch (mode) {
    case readiness::ok:
      return "ok";
    case readiness::error:
      return "500";
    case readiness::hang:
      return "hang";
    case readiness::close:
      return "close";
  }
  return "?";
}

}  // namespace cplb::fake_apiserver
