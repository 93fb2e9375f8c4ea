#include <cstdio>

#include "cplb/app/migrate.hpp"
#include "cplb/core/text_file.hpp"
#include "daemon.hpp"  // exit_code
#include "subcommands.hpp"

namespace cplb::app {
namespace {

/// The file at `path`, or nullopt after saying on stderr why it cannot be read.
std::optional<migrate::source_file> read_input(const std::string& path) {
  std::string why;
  auto text = read_text_file(path, why);
  if (!text) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), why.c_str());
    return std::nullopt;
  }
  return migrate::source_file{path, std::move(*text)};
}

}  // namespace

int run_migrate(const options& opts) {
  migrate::inputs in;
  auto haproxy = read_input(opts.haproxy_file);
  if (!haproxy) return exit_bad_config;
  in.haproxy = std::move(*haproxy);
  if (!opts.keepalived_file.empty()) {
    in.keepalived = read_input(opts.keepalived_file);
    if (!in.keepalived) return exit_bad_config;
  }
  in.read_file = [](const std::string& path) {
    std::string why;
    return read_text_file(path, why);
  };
  const auto result = migrate::migrate(in);
  if (const auto* e = std::get_if<migrate::error>(&result)) {
    std::fprintf(stderr, "%s\n", e->to_string().c_str());
    return exit_bad_config;
  }
  std::fputs(std::get<std::string>(result).c_str(), stdout);
  return exit_ok;
}

}  // namespace cplb::app
