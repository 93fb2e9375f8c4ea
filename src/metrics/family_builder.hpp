#pragma once
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace cplb::metrics {

/// Builds one MetricFamily of counters or gauges sample by sample.
class family_builder {
 public:
  /// A family `cplb_<name>` of `type` (counter or gauge).
  family_builder(const std::string& name, std::string help, prometheus::MetricType type);

  /// Adds a sample with `labels` and `value`.
  family_builder& add(std::vector<prometheus::ClientMetric::Label> labels, double value);
  /// The family built so far.
  prometheus::MetricFamily take() { return std::move(family_); }

 private:
  prometheus::MetricFamily family_;
};

}  // namespace cplb::metrics
