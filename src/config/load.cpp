#include "cplb/config/load.hpp"

#include <yaml-cpp/yaml.h>

#include <optional>

#include "cplb/core/text_file.hpp"

#include "decode.hpp"
#include "reader.hpp"
#include "validate.hpp"

namespace cplb::config {
namespace {

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
  auto text = read_text_file(path, why);
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
