#include "cplb/app/options.hpp"

namespace cplb::app {
namespace {

/// Walks the arguments, handing out each one's value as `--name VALUE` or `--name=VALUE`.
class argument_reader {
 public:
  argument_reader(const std::vector<std::string>& args, std::size_t first, std::string& error)
      : args_(args), next_(first), error_(error) {}

  /// The next argument's name (without `=VALUE`), or nullopt at the end.
  std::optional<std::string> next() {
    if (next_ >= args_.size()) return std::nullopt;
    current_ = next_++;
    return args_[current_].substr(0, args_[current_].find('='));
  }

  /// Reads the current argument's value into `into`; false (with the error set) when it has none.
  bool value(std::string& into) {
    const std::string& arg = args_[current_];
    const auto eq = arg.find('=');
    if (arg.starts_with("--") && eq != std::string::npos) {
      into = arg.substr(eq + 1);
      return true;
    }
    if (next_ >= args_.size()) {
      error_ = arg + " needs a value";
      return false;
    }
    into = args_[next_++];
    return true;
  }

  /// Sets the error for the current argument; false.
  bool unknown() {
    error_ = "unknown argument '" + args_[current_] + "'";
    return false;
  }

 private:
  const std::vector<std::string>& args_;
  std::size_t next_;
  std::size_t current_ = 0;
  std::string& error_;
};

bool parse_run(argument_reader& in, options& out, std::string& error) {
  while (const auto name = in.next()) {
    if (name == "-c" || name == "--config") {
      if (!in.value(out.config_file)) return false;
    } else if (name == "--check") {
      out.check_only = true;
    } else if (name == "--version") {
      out.show_version = true;
    } else if (name == "-h" || name == "--help") {
      out.show_help = true;
    } else if (name == "--log-level") {
      std::string level;
      if (!in.value(level)) return false;
      if (!log::parse_level(level, out.log_level)) {
        error = "--log-level: unknown level '" + level + "' (debug, info, warn, error)";
        return false;
      }
    } else {
      return in.unknown();
    }
  }
  if (!out.show_version && !out.show_help && out.config_file.empty()) {
    error = "--config FILE is required";
    return false;
  }
  return true;
}

bool parse_migrate(argument_reader& in, options& out, std::string& error) {
  while (const auto name = in.next()) {
    if (name == "--haproxy") {
      if (!in.value(out.haproxy_file)) return false;
    } else if (name == "--keepalived") {
      if (!in.value(out.keepalived_file)) return false;
    } else if (name == "-h" || name == "--help") {
      out.show_help = true;
    } else {
      return in.unknown();
    }
  }
  if (!out.show_help && out.haproxy_file.empty()) {
    error = "migrate: --haproxy FILE is required";
    return false;
  }
  return true;
}

bool parse_status(argument_reader& in, options& out, std::string& error) {
  while (const auto name = in.next()) {
    if (name == "-c" || name == "--config") {
      if (!in.value(out.config_file)) return false;
    } else if (name == "--admin") {
      std::string address;
      if (!in.value(address)) return false;
      out.admin_address = socket_address::parse(address);
      if (!out.admin_address) {
        error = "--admin: '" + address + "' is not HOST:PORT with an IP address";
        return false;
      }
    } else if (name == "-h" || name == "--help") {
      out.show_help = true;
    } else {
      return in.unknown();
    }
  }
  if (!out.config_file.empty() && out.admin_address) {
    error = "status: give -c FILE or --admin HOST:PORT, not both";
    return false;
  }
  return true;
}

}  // namespace

const char* usage() {
  return "usage: cplb --config FILE [--check] [--log-level debug|info|warn|error]\n"
         "       cplb migrate --haproxy FILE [--keepalived FILE]\n"
         "       cplb status [-c FILE | --admin HOST:PORT]\n"
         "       cplb --version\n"
         "\n"
         "  -c, --config FILE    the YAML configuration (required)\n"
         "      --check          validate the configuration and exit\n"
         "      --log-level L    debug, info (default), warn or error\n"
         "      --version        print the version and exit\n"
         "\n"
         "  migrate              print a cplb configuration made from an HAProxy config (its\n"
         "                       TCP frontends, listens and backends) and a keepalived config\n"
         "                       (its vrrp_instances); what cannot be carried over is commented\n"
         "  status               print the running cplb's /status as a table, asking the\n"
         "                       admin.listen of FILE or HOST:PORT (default 127.0.0.1:9100)\n"
         "\n"
         "Signals: SIGHUP reloads FILE; SIGTERM and SIGINT stop gracefully.\n";
}

std::optional<options> parse_options(const std::vector<std::string>& args, std::string& error) {
  options out;
  const std::string first = args.empty() ? "" : args.front();
  out.what = first == "migrate"  ? command::migrate
             : first == "status" ? command::status
                                 : command::run;
  argument_reader in(args, out.what == command::run ? 0 : 1, error);
  const bool ok = out.what == command::migrate  ? parse_migrate(in, out, error)
                  : out.what == command::status ? parse_status(in, out, error)
                                                : parse_run(in, out, error);
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace cplb::app
