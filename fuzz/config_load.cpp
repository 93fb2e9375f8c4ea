// `cplb --check` on arbitrary text: config::load_string, then what --check prints (each problem
// as FILE:LINE:COL: key.path: what, or the risky-settings warnings of a valid config).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "cplb/config/load.hpp"
#include "cplb/config/risky_settings.hpp"

namespace {

constexpr const char* file = "fuzz.yaml";

void require(bool ok, const char* what, const std::string& line) {
  if (ok) return;
  std::fprintf(stderr, "config_load: %s: %s\n", what, line.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  auto loaded = cplb::config::load_string(yaml, file);
  if (const auto* problems = std::get_if<std::vector<cplb::config::problem>>(&loaded)) {
    require(!problems->empty(), "rejected without a problem", "");
    for (const auto& p : *problems) {
      const std::string line = p.to_string();
      require(line.starts_with(std::string(file) + ":"), "problem does not name the file", line);
      require(!p.message.empty(), "problem without a message", line);
    }
    return 0;
  }
  for (const auto& warning : cplb::config::risky_settings(std::get<cplb::config::config>(loaded)))
    require(warning.starts_with(file), "warning does not name the file", warning);
  return 0;
}
