#pragma once
#include <string>
#include <variant>
#include <vector>

#include "cplb/config/config.hpp"

namespace cplb::config {

/// One problem found in a config file. Line and column are 1-based (0 when unknown).
struct problem {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key_path;   ///< e.g. `backends[0].servers[1].address`
  std::string message;    ///< e.g. `port 70000 is out of range (1-65535)`
  /// `FILE:LINE:COL: key.path: what is wrong`
  std::string to_string() const;
};

/// A config, or every problem found in it (never just the first).
using load_result = std::variant<config, std::vector<problem>>;

/// Reads, parses and validates a YAML file.
load_result load_file(const std::string& path);

/// Parses and validates YAML text; `file` names it in problems.
load_result load_string(const std::string& yaml, const std::string& file);

}  // namespace cplb::config
