#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cplb/app/options.hpp"
#include "cplb/config/load.hpp"
#include "cplb/config/risky_settings.hpp"
#include "cplb/core/log.hpp"
#include "daemon.hpp"
#include "subcommands.hpp"
#include "successor.hpp"
#include "upgrade_channel.hpp"

#ifndef CPLB_VERSION
#define CPLB_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace cplb;
  std::string error;
  const auto opts = app::parse_options({argv + 1, argv + argc}, error);
  if (!opts) {
    std::fprintf(stderr, "cplb: %s\n\n%s", error.c_str(), app::usage());
    return app::exit_bad_config;
  }
  if (opts->show_help) {
    std::fputs(app::usage(), stdout);
    return app::exit_ok;
  }
  if (opts->show_version) {
    std::puts("cplb " CPLB_VERSION);
    return app::exit_ok;
  }
  if (opts->what == app::command::migrate) return app::run_migrate(*opts);
  if (opts->what == app::command::status) return app::run_status(*opts);
  log::set_level(opts->log_level);

  // Started by an old cplb's SIGUSR2: the channel to take over from it. Not passed on again.
  std::unique_ptr<app::upgrade_channel> takeover;
  if (const char* fd = std::getenv(app::upgrade_fd_variable)) {
    takeover = std::make_unique<app::upgrade_channel>(std::atoi(fd));
    ::fcntl(takeover->fd(), F_SETFD, FD_CLOEXEC);
    ::unsetenv(app::upgrade_fd_variable);
  }

  auto loaded = config::load_file(opts->config_file);
  if (auto* problems = std::get_if<std::vector<config::problem>>(&loaded)) {
    for (const auto& p : *problems) std::fprintf(stderr, "%s\n", p.to_string().c_str());
    return app::exit_bad_config;
  }
  const auto& cfg = std::get<config::config>(loaded);
  for (const auto& w : config::risky_settings(cfg))
    opts->check_only ? static_cast<void>(std::fprintf(stderr, "%s\n", w.c_str())) : log::warn(w);
  if (opts->check_only) {
    std::puts("configuration OK");
    return app::exit_ok;
  }
  // Every send says MSG_NOSIGNAL, but a library's write to a closed peer must not kill the
  // process either.
  std::signal(SIGPIPE, SIG_IGN);
  app::daemon d(*opts, std::get<config::config>(std::move(loaded)),
                app::command_line::of_this_process(argc, argv), std::move(takeover));
  return d.run();
}
