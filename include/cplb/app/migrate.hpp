#pragma once
#include <functional>
#include <optional>
#include <string>
#include <variant>

// `cplb migrate`: an HAProxy config (and a keepalived one) as a cplb config.
namespace cplb::app::migrate {

/// A config file to migrate: its path, as given (messages and relative file names use it), and
/// its text.
struct source_file {
  std::string path;
  std::string text;
};

/// Reads a file that an input names (`ca-file`, `crt`): its contents, or nullopt when it cannot.
using file_reader = std::function<std::optional<std::string>(const std::string& path)>;

/// What to migrate.
struct inputs {
  source_file haproxy;
  std::optional<source_file> keepalived;
  file_reader read_file;
};

/// Input that cannot be migrated, as `FILE:LINE: what` (`FILE: what` without a line).
struct error {
  std::string file;
  int line = 0;
  std::string message;
  std::string to_string() const;
};

/// The cplb YAML for `in`: it passes `cplb --check`, and it has a `# not carried over: ...
/// (FILE:LINE)` line for every directive cplb cannot map, next to what it concerns. An error when
/// an input cannot be parsed, or when nothing in it can be proxied by cplb.
std::variant<std::string, error> migrate(const inputs& in);

}  // namespace cplb::app::migrate
