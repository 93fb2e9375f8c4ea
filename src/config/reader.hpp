#pragma once
#include <yaml-cpp/yaml.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "cplb/config/load.hpp"

// Internal to the config module: the state of one load.
namespace cplb::config::detail {

/// Collects the problems of one load, and remembers where each value that decoded cleanly was
/// written, so that checks across entries (duplicates, references) can point at the right line.
class reader {
 public:
  /// `file` names the config in problems; relative file paths in it are resolved against its
  /// directory.
  explicit reader(std::string file);

  /// Records a problem at `at` (a yaml-cpp mark, 0-based; a null mark means unknown).
  void report(const YAML::Mark& at, std::string key_path, std::string message);
  /// Records that the value at `key_path` decoded cleanly and was written at `at`.
  void locate(const std::string& key_path, const YAML::Mark& at);
  /// Where the value at `key_path` was written, or nullptr when it did not decode cleanly.
  const YAML::Mark* where(const std::string& key_path) const;

  /// `path` as the config means it: absolute, or relative to the config file's directory.
  std::string resolve(const std::string& path) const;

  /// True once any problem was reported.
  bool has_problems() const { return !problems_.empty(); }
  /// The problems, in file order.
  std::vector<problem> take_problems();

 private:
  std::string file_;
  std::vector<problem> problems_;
  std::unordered_map<std::string, YAML::Mark> marks_;
};

}  // namespace cplb::config::detail
