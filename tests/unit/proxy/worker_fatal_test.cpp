#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "shared_state.hpp"
#include "worker.hpp"

namespace {

/// Runs `body` in a child process with stderr captured; returns its wait status and what it wrote.
template <typename Body>
std::pair<int, std::string> in_child(Body body) {
  int out[2];
  REQUIRE(::pipe(out) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], STDERR_FILENO);
    ::close(out[0]);
    body();
    ::_exit(0);
  }
  ::close(out[1]);
  std::string text;
  char chunk[512];
  for (ssize_t n; (n = ::read(out[0], chunk, sizeof chunk)) > 0;) text.append(chunk, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return {status, text};
}

}  // namespace

TEST_CASE("an exception escaping a worker is logged and the process exits 2") {
  const auto [status, log] = in_child([] {
    cplb::proxy::shared_state shared(1);
    cplb::proxy::worker w(3, shared);
    w.run();
    w.post([] { throw std::runtime_error("boom from posted work"); });
    w.join();  // never returns: the worker ends the process
  });
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
  CHECK(log.find("fatal error on a worker: exiting") != std::string::npos);
  CHECK(log.find("worker=3") != std::string::npos);
  CHECK(log.find("boom from posted work") != std::string::npos);
}
