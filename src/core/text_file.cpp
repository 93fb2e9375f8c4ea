#include "cplb/core/text_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cplb {
namespace {

constexpr off_t max_file_size = 4 << 20;  // far beyond any config

}  // namespace

std::optional<std::string> read_text_file(const std::string& path, std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    why = std::string("cannot read: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "cannot read: not a regular file";
  } else if (st.st_size > max_file_size) {
    why = "is larger than 4 MiB";
  } else {
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
    if (n < 0) why = std::string("cannot read: ") + std::strerror(errno);
  }
  ::close(fd);
  if (!why.empty()) return std::nullopt;
  return text;
}

}  // namespace cplb
