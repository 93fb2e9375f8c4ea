#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cplb/core/log.hpp"
#include "cplb/core/socket_address.hpp"

namespace cplb::app {

/// What `cplb` is asked to do: run the daemon (or check its config), or a subcommand.
enum class command { run, migrate, status };

/// What the command line asks for.
struct options {
  command what = command::run;
  std::string config_file;  ///< run; status (to find admin.listen)
  bool check_only = false;
  bool show_version = false;
  bool show_help = false;
  log::level log_level = log::level::info;
  std::string haproxy_file;     ///< migrate
  std::string keepalived_file;  ///< migrate (optional)
  std::optional<socket_address> admin_address;  ///< status --admin
};

/// Parses argv; on a bad argument returns nullopt and sets `error`.
std::optional<options> parse_options(const std::vector<std::string>& args, std::string& error);

/// The usage text.
const char* usage();

}  // namespace cplb::app
