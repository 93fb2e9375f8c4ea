#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

// A minimal reader of the Prometheus text format, enough to assert on what the exporter wrote.
namespace cplb::metrics::test {

/// One sample line.
struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// The `# TYPE` lines and samples of one exposition.
struct exposition {
  std::map<std::string, std::string> types;  ///< family name -> counter, gauge, histogram, ...
  std::vector<sample> samples;

  /// The value of the sample `name` with exactly `labels`, if there is one.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const;
  /// The label names used by the samples called `name` (empty when there is none).
  std::set<std::set<std::string>> label_names(const std::string& name) const;
  /// How many samples carry label `label` = `value` (any name).
  std::size_t count_with(const std::string& label, const std::string& value) const;
};

/// Parses `text`; throws std::runtime_error on a line it cannot read.
exposition parse(const std::string& text);

}  // namespace cplb::metrics::test
