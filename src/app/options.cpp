#include "cplb/app/options.hpp"

namespace cplb::app {

const char* usage() {
  return "usage: cplb --config FILE [--check] [--log-level debug|info|warn|error]\n"
         "       cplb --version\n"
         "\n"
         "  -c, --config FILE    the YAML configuration (required)\n"
         "      --check          validate the configuration and exit\n"
         "      --log-level L    debug, info (default), warn or error\n"
         "      --version        print the version and exit\n"
         "\n"
         "Signals: SIGHUP reloads FILE; SIGTERM and SIGINT stop gracefully.\n";
}

std::optional<options> parse_options(const std::vector<std::string>& args, std::string& error) {
  options out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string& into) {
      const auto eq = arg.find('=');
      if (arg.starts_with("--") && eq != std::string::npos) {
        into = arg.substr(eq + 1);
        return true;
      }
      if (i + 1 >= args.size()) {
        error = arg + " needs a value";
        return false;
      }
      into = args[++i];
      return true;
    };
    const auto name = arg.substr(0, arg.find('='));
    if (name == "-c" || name == "--config") {
      if (!value(out.config_file)) return std::nullopt;
    } else if (name == "--check") {
      out.check_only = true;
    } else if (name == "--version") {
      out.show_version = true;
    } else if (name == "-h" || name == "--help") {
      out.show_help = true;
    } else if (name == "--log-level") {
      std::string level;
      if (!value(level)) return std::nullopt;
      if (!log::parse_level(level, out.log_level)) {
        error = "--log-level: unknown level '" + level + "' (debug, info, warn, error)";
        return std::nullopt;
      }
    } else {
      error = "unknown argument '" + arg + "'";
      return std::nullopt;
    }
  }
  if (!out.show_version && !out.show_help && out.config_file.empty()) {
    error = "--config FILE is required";
    return std::nullopt;
  }
  return out;
}

}  // namespace cplb::app
