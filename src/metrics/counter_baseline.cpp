#include "counter_baseline.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

namespace cplb::metrics {

using prometheus::ClientMetric;
using prometheus::MetricType;

namespace {

std::string to_text(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  return {buf, std::to_chars(buf, buf + sizeof buf, v).ptr};  // shortest form that reads back exactly
}

std::string to_text(std::uint64_t v) { return std::to_string(v); }

/// `name{a="x",b="y"}`: the labels sorted by name, their values escaped as in the text format.
std::string series_key(const std::string& name, std::vector<ClientMetric::Label> labels) {
  std::sort(labels.begin(), labels.end());
  std::string key = name;
  char separator = '{';
  for (const auto& l : labels) {
    key += separator;
    separator = ',';
    key += l.name;
    key += "=\"";
    for (const char c : l.value) {
      switch (c) {
        case '\\': key += "\\\\"; break;
        case '"': key += "\\\""; break;
        case '\n': key += "\\n"; break;
        default: key += c;
      }
    }
    key += '"';
  }
  if (!labels.empty()) key += '}';
  return key;
}

/// Calls `f(key, value)` on every cumulative sample of `families`, with a reference to the
/// value in the family (a double, or a histogram's std::uint64_t count).
template <class Families, class F>
void for_each_cumulative(Families& families, F&& f) {
  for (auto& family : families) {
    if (family.type == MetricType::Counter) {
      for (auto& m : family.metric) f(series_key(family.name, m.label), m.counter.value);
    } else if (family.type == MetricType::Histogram) {
      const std::string bucket = family.name + "_bucket";
      for (auto& m : family.metric) {
        for (auto& b : m.histogram.bucket) {
          auto labels = m.label;
          labels.push_back({"le", to_text(b.upper_bound)});
          f(series_key(bucket, std::move(labels)), b.cumulative_count);
        }
        f(series_key(family.name + "_sum", m.label), m.histogram.sample_sum);
        f(series_key(family.name + "_count", m.label), m.histogram.sample_count);
      }
    }
  }
}

/// Reads a metric or label name at `pos`, leaving `pos` after it (empty when there is none).
std::string read_name(std::string_view line, std::size_t& pos) {
  const std::size_t start = pos;
  for (; pos < line.size(); ++pos) {
    const auto c = static_cast<unsigned char>(line[pos]);
    if (!(std::isalpha(c) || c == '_' || c == ':' || (pos > start && std::isdigit(c)))) break;
  }
  return std::string(line.substr(start, pos - start));
}

/// The series key and value of a sample line; nullopt for anything else (comments included).
std::optional<std::pair<std::string, double>> read_sample(std::string_view line) {
  std::size_t pos = 0;
  const std::string name = read_name(line, pos);
  if (name.empty()) return std::nullopt;
  std::vector<ClientMetric::Label> labels;
  if (pos < line.size() && line[pos] == '{') {
    for (++pos; pos < line.size() && line[pos] != '}';) {
      ClientMetric::Label l;
      l.name = read_name(line, pos);
      if (l.name.empty() || line.substr(pos, 2) != "=\"") return std::nullopt;
      for (pos += 2; pos < line.size() && line[pos] != '"'; ++pos) {
        if (line[pos] != '\\') {
          l.value += line[pos];
          continue;
        }
        if (++pos == line.size()) return std::nullopt;
        switch (line[pos]) {
          case 'n': l.value += '\n'; break;
          case '\\':
          case '"': l.value += line[pos]; break;
          default: return std::nullopt;
        }
      }
      if (pos == line.size()) return std::nullopt;
      ++pos;  // the closing quote
      if (pos < line.size() && line[pos] == ',') ++pos;
      else if (pos < line.size() && line[pos] != '}') return std::nullopt;
      labels.push_back(std::move(l));
    }
    if (pos == line.size()) return std::nullopt;
    ++pos;  // the closing brace
  }
  std::sort(labels.begin(), labels.end());
  const auto same_name = [](const auto& a, const auto& b) { return a.name == b.name; };
  if (std::adjacent_find(labels.begin(), labels.end(), same_name) != labels.end())
    return std::nullopt;

  if (pos == line.size() || line[pos] != ' ') return std::nullopt;
  while (pos < line.size() && line[pos] == ' ') ++pos;
  double value = 0;
  const char* end = line.data() + line.size();
  const auto [last, error] = std::from_chars(line.data() + pos, end, value);
  if (error != std::errc() || last != end) return std::nullopt;
  // A counter's value; the bound also keeps the conversion to a histogram count defined.
  if (!(value >= 0 && value < 0x1p64)) return std::nullopt;
  return std::pair{series_key(name, std::move(labels)), value};
}

}  // namespace

std::string cumulative_samples(const std::vector<prometheus::MetricFamily>& families) {
  std::string out;
  for_each_cumulative(families, [&out](const std::string& key, const auto& value) {
    out += key;
    out += ' ';
    out += to_text(value);
    out += '\n';
  });
  return out;
}

void counter_baseline::assign(std::string_view samples) {
  values_.clear();
  while (!samples.empty()) {
    const auto eol = samples.find('\n');
    const auto line = samples.substr(0, eol);
    samples.remove_prefix(eol == std::string_view::npos ? samples.size() : eol + 1);
    if (auto s = read_sample(line)) values_.insert_or_assign(std::move(s->first), s->second);
  }
}

void counter_baseline::add_to(std::vector<prometheus::MetricFamily>& families) const {
  if (values_.empty()) return;  // no upgrade inherited: spare the keys
  for_each_cumulative(families, [this](const std::string& key, auto& value) {
    if (const auto it = values_.find(key); it != values_.end())
      value += static_cast<std::remove_reference_t<decltype(value)>>(it->second);
  });
}

}  // namespace cplb::metrics
