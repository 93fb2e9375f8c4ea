#pragma once
#include <prometheus/metric_family.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cplb::metrics {

/// The cumulative samples of `families` (counters; histogram buckets, sums and counts) as
/// Prometheus text sample lines, `name{label="value",...} value`, labels sorted by name.
std::string cumulative_samples(const std::vector<prometheus::MetricFamily>& families);

/// The values another process reached (before a binary upgrade), added to the series of the same
/// name and labels here so that no counter goes back to zero.
class counter_baseline {
 public:
  /// Replaces the baseline with the lines of `samples` (as cumulative_samples writes them). A
  /// line that is not a sample with a finite, non-negative value is skipped.
  void assign(std::string_view samples);
  /// Adds the baseline to the matching cumulative samples of `families`; gauges are left alone.
  void add_to(std::vector<prometheus::MetricFamily>& families) const;

 private:
  std::unordered_map<std::string, double> values_;  ///< by series key (the line without value)
};

}  // namespace cplb::metrics
