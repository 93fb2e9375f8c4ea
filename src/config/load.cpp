#include "cplb/config/load.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "decode.hpp"
#include "reader.hpp"
#include "validate.hpp"

namespace cplb::config {
namespace {

constexpr off_t max_file_size = 4 << 20;  // far beyond any real config

/// The contents of `path`, or nullopt with `why` set.
std::optional<std::string> read_all(const std::string& path, std::string& why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
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

/// A hint when the line of a syntax error is indented with tabs, which yaml-cpp reports
/// obscurely.
std::string tab_hint(const std::string& yaml, const YAML::Mark& at) {
  if (at.is_null()) return "";
  std::size_t start = 0;
  for (int line = 0; line < at.line && start != std::string::npos; ++line)
    start = yaml.find('\n', start) == std::string::npos ? std::string::npos
                                                        : yaml.find('\n', start) + 1;
  if (start == std::string::npos) return "";
  std::size_t indent_end = yaml.find_first_not_of(" \t", start);
  if (yaml.find('\t', start) >= indent_end) return "";
  return " (YAML does not allow tabs for indentation)";
}

}  // namespace

std::string problem::to_string() const {
  std::string s = file + ":";
  if (line > 0) s += std::to_string(line) + ":" + std::to_string(column) + ":";
  s += " ";
  if (!key_path.empty()) s += key_path + ": ";
  return s + message;
}

load_result load_file(const std::string& path) {
  std::string why;
  auto text = read_all(path, why);
  if (!text) return std::vector<problem>{{path, 0, 0, "", why}};
  return load_string(*text, path);
}

load_result load_string(const std::string& yaml, const std::string& file) {
  detail::reader r(file);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    r.report(e.mark, "", "invalid YAML: " + e.msg + tab_hint(yaml, e.mark));
    return r.take_problems();
  }
  config c;
  c.file = file;
  detail::decode_config(r, root, c);
  detail::validate(r, c);
  if (r.has_problems()) return r.take_problems();
  return c;
}

}  // namespace cplb::config
