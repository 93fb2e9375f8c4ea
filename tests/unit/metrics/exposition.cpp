#include "exposition.hpp"

#include <sstream>
#include <stdexcept>

namespace cplb::metrics::test {

namespace {

[[noreturn]] void bad(const std::string& line) {
  throw std::runtime_error("unreadable exposition line: " + line);
}

// Reads `{a="x",b="y"}` from `line` at `pos` (just after `{`) up to and past the `}`.
std::map<std::string, std::string> read_labels(const std::string& line, std::size_t& pos) {
  std::map<std::string, std::string> labels;
  while (pos < line.size() && line[pos] != '}') {
    const auto eq = line.find('=', pos);
    if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') bad(line);
    const std::string name = line.substr(pos, eq - pos);
    std::string value;
    pos = eq + 2;
    for (; pos < line.size() && line[pos] != '"'; ++pos) {
      if (line[pos] == '\\' && pos + 1 < line.size()) {
        ++pos;
        value += line[pos] == 'n' ? '\n' : line[pos];
      } else {
        value += line[pos];
      }
    }
    if (pos >= line.size()) bad(line);
    ++pos;  // the closing quote
    if (pos < line.size() && line[pos] == ',') ++pos;
    labels[name] = value;
  }
  if (pos >= line.size()) bad(line);
  ++pos;  // the closing brace
  return labels;
}

}  // namespace

std::optional<double> exposition::value(const std::string& name,
                                        const std::map<std::string, std::string>& labels) const {
  for (const auto& s : samples)
    if (s.name == name && s.labels == labels) return s.value;
  return std::nullopt;
}

std::set<std::set<std::string>> exposition::label_names(const std::string& name) const {
  std::set<std::set<std::string>> out;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    std::set<std::string> names;
    for (const auto& [k, v] : s.labels) names.insert(k);
    out.insert(names);
  }
  return out;
}

std::size_t exposition::count_with(const std::string& label, const std::string& value) const {
  std::size_t n = 0;
  for (const auto& s : samples) {
    const auto it = s.labels.find(label);
    if (it != s.labels.end() && it->second == value) ++n;
  }
  return n;
}

exposition parse(const std::string& text) {
  exposition e;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      if (!(words >> name >> type)) bad(line);
      e.types[name] = type;
      continue;
    }
    if (line[0] == '#') continue;
    sample s;
    std::size_t pos = line.find_first_of("{ ");
    if (pos == std::string::npos) bad(line);
    s.name = line.substr(0, pos);
    if (line[pos] == '{') {
      ++pos;
      s.labels = read_labels(line, pos);
    }
    std::istringstream rest(line.substr(pos));
    std::string value;
    if (!(rest >> value)) bad(line);
    s.value = std::stod(value);  // strtod reads +Inf and NaN too
    e.samples.push_back(std::move(s));
  }
  return e;
}

}  // namespace cplb::metrics::test
