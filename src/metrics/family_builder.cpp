#include "family_builder.hpp"

#include <cassert>

namespace cplb::metrics {

family_builder::family_builder(const std::string& name, std::string help,
                               prometheus::MetricType type) {
  assert(type == prometheus::MetricType::Counter || type == prometheus::MetricType::Gauge);
  family_.name = "cplb_" + name;
  family_.help = std::move(help);
  family_.type = type;
}

family_builder& family_builder::add(std::vector<prometheus::ClientMetric::Label> labels,
                                    double value) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (family_.type == prometheus::MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  family_.metric.push_back(std::move(m));
  return *this;
}

}  // namespace cplb::metrics
