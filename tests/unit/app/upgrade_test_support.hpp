#pragma once
#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "../unique_fd.hpp"

// What the upgrade tests share: descriptors they own, and the count of descriptors open in the
// process, which shows a leak without guessing at reused numbers.
namespace cplb::app::test {

using cplb::test::unique_fd;

/// The descriptors open in this process (the directory's own is counted every time alike).
inline int open_fd_count() {
  DIR* dir = ::opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  int n = 0;
  while (const dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n;
}

/// A pipe: [0] reads, [1] writes.
struct test_pipe {
  unique_fd read_end;
  unique_fd write_end;
  test_pipe() {
    int fd[2];
    REQUIRE(::pipe2(fd, O_CLOEXEC | O_NONBLOCK) == 0);
    read_end.reset(fd[0]);
    write_end.reset(fd[1]);
  }
};

inline unique_fd make_eventfd() {
  unique_fd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  REQUIRE(fd.get() >= 0);
  return fd;
}

/// Adds `value` to the eventfd `fd`.
inline void eventfd_add(int fd, std::uint64_t value) {
  REQUIRE(::write(fd, &value, sizeof value) == static_cast<ssize_t>(sizeof value));
}

/// Reads (and resets) the eventfd `fd`'s counter; 0 when it is zero.
inline std::uint64_t eventfd_take(int fd) {
  std::uint64_t value = 0;
  if (::read(fd, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) return 0;
  return value;
}

/// Both ends of a connected Unix stream socket.
inline std::pair<int, int> stream_pair() {
  int fd[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0);
  return {fd[0], fd[1]};
}

}  // namespace cplb::app::test
