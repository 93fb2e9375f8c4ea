#pragma once
#include <string>
#include <vector>

#include "cplb/config/load.hpp"

namespace cplb::config::test {

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// The directory's path.
  const std::string& path() const { return path_; }
  /// Writes `text` to `name` in the directory; returns the file's path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

/// `text` with every `from` replaced by `to`.
std::string replace_all(std::string text, const std::string& from, const std::string& to);

/// The problems of loading `yaml` (none when it loads).
std::vector<problem> problems_of(const std::string& yaml, const std::string& file = "test.yaml");

/// Every problem as `FILE:LINE:COL: key.path: message`, one a line, for failure messages.
std::string describe(const std::vector<problem>& problems);

}  // namespace cplb::config::test
