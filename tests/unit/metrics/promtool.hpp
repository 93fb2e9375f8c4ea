#pragma once
#include <optional>
#include <string>

namespace cplb::metrics::test {

/// What `promtool check metrics` said.
struct promtool_verdict {
  int exit_status = -1;
  std::string output;  ///< its stdout and stderr
};

/// Where promtool is expected (Debian's `prometheus` package).
inline constexpr const char* promtool_path = "/usr/bin/promtool";

/// Feeds `text` to `promtool check metrics` on stdin; nullopt when promtool is not installed.
std::optional<promtool_verdict> promtool_check(const std::string& text);

}  // namespace cplb::metrics::test
