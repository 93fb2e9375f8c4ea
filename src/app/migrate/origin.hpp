#pragma once
#include <string>

namespace cplb::app::migrate {

/// Where a directive was read, as the comments of the output cite it: `haproxy.cfg:12`.
struct origin {
  std::string file;  ///< the input's file name without its directory
  int line = 0;      ///< 1-based

  std::string to_string() const { return file + ":" + std::to_string(line); }
};

/// The file name of `path` without its directory, as comments cite it.
inline std::string file_label(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// `not carried over: WHAT (FILE:LINE): WHY`, the comment for a directive cplb cannot map.
inline std::string not_carried_over(const std::string& what, const origin& at,
                                    const std::string& why) {
  return "not carried over: " + what + " (" + at.to_string() + "): " + why;
}

/// `WHAT (FILE:LINE)`, the trailing comment of a value that came from a directive.
inline std::string from(const std::string& what, const origin& at) {
  return what + " (" + at.to_string() + ")";
}

}  // namespace cplb::app::migrate
