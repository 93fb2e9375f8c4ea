#include "temp_dir.hpp"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace cplb::config::test {

temp_dir::temp_dir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "cplb-config-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string temp_dir::write(const std::string& name, const std::string& text) const {
  std::string file = path_ + "/" + name;
  std::ofstream(file, std::ios::binary) << text;
  return file;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

std::vector<problem> problems_of(const std::string& yaml, const std::string& file) {
  auto result = load_string(yaml, file);
  if (auto* problems = std::get_if<std::vector<problem>>(&result)) return *problems;
  return {};
}

std::string describe(const std::vector<problem>& problems) {
  std::string s;
  for (const auto& p : problems) s += p.to_string() + "\n";
  return s.empty() ? "(no problems)" : s;
}

}  // namespace cplb::config::test
