#include "reader.hpp"

#include <algorithm>
#include <filesystem>

namespace cplb::config::detail {

reader::reader(std::string file) : file_(std::move(file)) {}

void reader::report(const YAML::Mark& at, std::string key_path, std::string message) {
  problem p{file_, 0, 0, std::move(key_path), std::move(message)};
  if (!at.is_null()) {
    p.line = at.line + 1;
    p.column = at.column + 1;
  }
  problems_.push_back(std::move(p));
}

void reader::locate(const std::string& key_path, const YAML::Mark& at) { marks_[key_path] = at; }

const YAML::Mark* reader::where(const std::string& key_path) const {
  auto it = marks_.find(key_path);
  return it == marks_.end() ? nullptr : &it->second;
}

std::string reader::resolve(const std::string& path) const {
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(file_).parent_path() / p).lexically_normal().string();
}

std::vector<problem> reader::take_problems() {
  std::stable_sort(problems_.begin(), problems_.end(), [](const problem& a, const problem& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  return std::move(problems_);
}

}  // namespace cplb::config::detail
