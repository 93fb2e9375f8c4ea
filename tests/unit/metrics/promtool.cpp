#include "promtool.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cplb::metrics::test {

std::optional<promtool_verdict> promtool_check(const std::string& text) {
  if (::access(promtool_path, X_OK) != 0) return std::nullopt;
  char out_path[] = "/tmp/cplb-promtool-XXXXXX";
  const int fd = ::mkstemp(out_path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  // promtool may stop reading early; a write to the closed pipe must not kill the test.
  const auto previous = std::signal(SIGPIPE, SIG_IGN);
  const std::string command = "timeout 30 " + std::string(promtool_path) + " check metrics >" + out_path + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "w");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  std::fwrite(text.data(), 1, text.size(), pipe);
  const int status = ::pclose(pipe);
  std::signal(SIGPIPE, previous);

  promtool_verdict v;
  v.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(out_path);
  std::ostringstream all;
  all << in.rdbuf();
  v.output = all.str();
  ::unlink(out_path);
  return v;
}

}  // namespace cplb::metrics::test
