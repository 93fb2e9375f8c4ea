#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cplb/core/log.hpp"

namespace cplb::app {

/// What the command line asks for.
struct options {
  std::string config_file;
  bool check_only = false;
  bool show_version = false;
  bool show_help = false;
  log::level log_level = log::level::info;
};

/// Parses argv; on a bad argument returns nullopt and sets `error`.
std::optional<options> parse_options(const std::vector<std::string>& args, std::string& error);

/// The usage text.
const char* usage();

}  // namespace cplb::app
