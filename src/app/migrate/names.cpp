#include "names.hpp"

#include <cctype>

namespace cplb::app::migrate {
namespace {

constexpr std::size_t max_name = 63;

bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::string cplb_name(const std::string& raw, const std::string& fallback) {
  std::string out;
  for (char c : raw) {
    if (out.empty() && !alnum(c)) continue;
    out += alnum(c) || c == '.' || c == '_' || c == '-' ? c : '-';
  }
  out.resize(std::min(out.size(), max_name));
  return out.empty() ? fallback : out;
}

std::string unique_name(const std::string& name, std::set<std::string>& taken) {
  std::string candidate = name;
  for (int n = 2; taken.count(candidate); ++n) {
    const std::string suffix = "-" + std::to_string(n);
    candidate = name.substr(0, max_name - suffix.size()) + suffix;
  }
  taken.insert(candidate);
  return candidate;
}

}  // namespace cplb::app::migrate
