#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace cplb::app {

/// How cplb was started, to start its successor the same way (binary upgrade).
struct command_line {
  std::string executable;         ///< resolved at start: the path, not the running file
  std::vector<std::string> args;  ///< argv, argv[0] included
  /// This process's command line (/proc/self/exe read now, so a package that replaces the file
  /// later still names the path).
  static command_line of_this_process(int argc, char** argv);
};

/// The environment variable that tells a new process it takes over: the descriptor number of
/// its end of the upgrade channel.
inline constexpr const char* upgrade_fd_variable = "CPLB_UPGRADE_FD";

/// Starts `cmd.executable` with `cmd.args`, the environment, stdin/stdout/stderr and
/// `channel_fd` (as descriptor 3, named in CPLB_UPGRADE_FD) and no other descriptor. The pid,
/// or -1 with `error`.
pid_t spawn_successor(const command_line& cmd, int channel_fd, std::string& error);

/// Waits up to `ms` milliseconds for `pid` to exit: how it ended ("exited with status 1",
/// "was killed by signal 11"), or "" while it still runs.
std::string wait_exit(pid_t pid, int ms);

}  // namespace cplb::app
