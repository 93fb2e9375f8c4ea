#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cplb/app/status_table.hpp"
#include "cplb/config/config.hpp"
#include "daemon.hpp"  // exit_code
#include "status/admin_client.hpp"
#include "subcommands.hpp"

namespace cplb::app {
namespace {

using namespace std::chrono_literals;

constexpr auto fetch_timeout = 5s;

/// Colour only for a terminal, and not when the user asked for none (https://no-color.org).
bool use_colour() {
  const char* no_color = std::getenv("NO_COLOR");
  return ::isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0');
}

}  // namespace

int run_status(const options& opts) {
  std::string why;
  std::optional<socket_address> admin;
  if (opts.admin_address)
    admin = opts.admin_address;
  else if (!opts.config_file.empty())
    admin = status::admin_address_of(opts.config_file, why);
  else
    admin = config::admin_config{}.listen;
  if (!admin) {
    std::fprintf(stderr, "cplb status: %s\n", why.c_str());
    return exit_bad_config;
  }
  const socket_address target = status::reachable(*admin);
  const auto body = status::fetch_status(target, fetch_timeout, why);
  if (!body) {
    std::fprintf(stderr, "cplb status: cannot reach the admin endpoint %s: %s\n",
                 target.to_string().c_str(), why.c_str());
    return exit_runtime_failure;
  }
  const auto lines = status::render_status(*body, use_colour(), why);
  if (!lines) {
    std::fprintf(stderr, "cplb status: %s did not answer with a /status document: %s\n",
                 target.to_string().c_str(), why.c_str());
    return exit_runtime_failure;
  }
  for (const auto& line : *lines) std::printf("%s\n", line.c_str());
  return exit_ok;
}

}  // namespace cplb::app
