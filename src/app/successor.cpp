#include "successor.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>

extern char** environ;

namespace cplb::app {

command_line command_line::of_this_process(int argc, char** argv) {
  command_line cmd;
  char path[PATH_MAX];
  const auto n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  cmd.executable = n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string(argv[0]);
  cmd.args.assign(argv, argv + argc);
  return cmd;
}

pid_t spawn_successor(const command_line& cmd, int channel_fd, std::string& error) {
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : cmd.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string marker = std::string(upgrade_fd_variable) + "=3";
  std::vector<char*> envp;
  const std::string prefix = std::string(upgrade_fd_variable) + "=";
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0) envp.push_back(*e);
  envp.push_back(const_cast<char*>(marker.c_str()));
  envp.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return -1;
  }
  if (pid == 0) {
    // The channel as descriptor 3, and no other descriptor of ours (listening sockets, sessions,
    // VRRP sockets) leaks into the new process: it receives what it needs over the channel.
    if (channel_fd == 3) ::fcntl(3, F_SETFD, 0);
    else if (::dup2(channel_fd, 3) < 0) ::_exit(126);
    ::syscall(SYS_close_range, 4u, ~0u, 0u);
    ::execve(cmd.executable.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

std::string wait_exit(pid_t pid, int ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
      if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
      return "ended";
    }
    if (r < 0) return "ended";  // not our child any more
    if (std::chrono::steady_clock::now() >= deadline) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace cplb::app
