#include "cplb/metrics/exporter.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <iterator>
#include <map>

#include "counter_baseline.hpp"
#include "snapshot_collector.hpp"

namespace cplb::metrics {

namespace {

/// Probe durations, from a fast local TLS check to the longest sensible timeout.
const prometheus::Histogram::BucketBoundaries probe_buckets{0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25,  0.5,  1,     2.5,  5};

/// The health series of one server.
struct probe_series {
  prometheus::Histogram* duration;
  prometheus::Counter* success;
  prometheus::Counter* failure;
};

}  // namespace

struct exporter::impl {
  prometheus::Registry registry;
  prometheus::Family<prometheus::Histogram>& probe_duration =
      prometheus::BuildHistogram()
          .Name("cplb_health_check_duration_seconds")
          .Help("How long health probes took, from start to verdict")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& probes =
      prometheus::BuildCounter()
          .Name("cplb_health_checks_total")
          .Help("Health probes run, by result")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& vrrp_transitions =
      prometheus::BuildCounter()
          .Name("cplb_vrrp_transitions_total")
          .Help("VRRP state changes, by the state entered")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& vrrp_drops =
      prometheus::BuildCounter()
          .Name("cplb_vrrp_dropped_adverts_total")
          .Help("VRRP packets dropped before the state machine, by reason")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& vrrp_split_brains =
      prometheus::BuildCounter()
          .Name("cplb_vrrp_split_brains_total")
          .Help("Split brains a VRRP master saw: another, lower-priority master it then overrode")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& reloads =
      prometheus::BuildCounter()
          .Name("cplb_config_reloads_total")
          .Help("Configuration reloads, by result")
          .Register(registry);
  prometheus::Counter& reload_success = reloads.Add({{"result", "success"}});
  prometheus::Counter& reload_failure = reloads.Add({{"result", "failure"}});
  prometheus::Gauge& last_success =
      prometheus::BuildGauge()
          .Name("cplb_config_last_reload_success_timestamp_seconds")
          .Help("When the configuration was last loaded successfully, in Unix seconds")
          .Register(registry)
          .Add({});
  prometheus::Family<prometheus::Counter>& upgrades =
      prometheus::BuildCounter()
          .Name("cplb_upgrades_total")
          .Help("Binary upgrades (SIGUSR2), by result: success counted by the new process, "
                "failure by the old")
          .Register(registry);
  prometheus::Counter& upgrade_success = upgrades.Add({{"result", "success"}});
  prometheus::Counter& upgrade_failure = upgrades.Add({{"result", "failure"}});

  std::map<server_key, probe_series> servers;
  std::vector<std::string> vrrp_instances;
  snapshot_collector snapshot;
  counter_baseline inherited;

  /// Every family with a sample, sorted by name, the inherited counts added.
  std::vector<prometheus::MetricFamily> collect() const;
  /// Creates the health series of the servers of `gen` and removes those of servers gone.
  void track_servers(const generation::snapshot* gen);
  /// Creates the transition and split-brain series of `instances`, removes those of instances gone.
  void track_vrrp(const std::vector<vrrp_status>& instances);
};

void exporter::impl::track_servers(const generation::snapshot* gen) {
  std::map<server_key, probe_series> next;
  if (gen && gen->backends) {
    for (const auto& b : gen->backends->all()) {
      for (const auto& s : b->servers()) {
        server_key key{b->name(), s->name()};
        if (auto old = servers.find(key); old != servers.end()) {
          next.insert(servers.extract(old));
          continue;
        }
        const prometheus::Labels labels{{"backend", b->name()}, {"server", s->name()}};
        auto with_result = [&labels](const char* result) {
          auto l = labels;
          l.emplace("result", result);
          return l;
        };
        next.emplace(std::move(key),
                     probe_series{&probe_duration.Add(labels, probe_buckets),
                                  &probes.Add(with_result("success")),
                                  &probes.Add(with_result("failure"))});
      }
    }
  }
  for (const auto& [key, gone] : servers) {
    probe_duration.Remove(gone.duration);
    probes.Remove(gone.success);
    probes.Remove(gone.failure);
  }
  servers = std::move(next);
}

std::vector<prometheus::MetricFamily> exporter::impl::collect() const {
  auto families = registry.Collect();
  auto live = snapshot.Collect();
  std::move(live.begin(), live.end(), std::back_inserter(families));
  std::erase_if(families, [](const prometheus::MetricFamily& f) { return f.metric.empty(); });
  std::sort(families.begin(), families.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  inherited.add_to(families);
  return families;
}

void exporter::impl::track_vrrp(const std::vector<vrrp_status>& instances) {
  std::vector<std::string> next;
  for (const auto& v : instances) {
    next.push_back(v.name);
    for (const auto to : vrrp::all_states)
      vrrp_transitions.Add({{"instance", v.name}, {"to", vrrp::to_string(to)}});
    vrrp_split_brains.Add({{"instance", v.name}});
  }
  for (const auto& name : vrrp_instances) {
    if (std::find(next.begin(), next.end(), name) != next.end()) continue;
    for (const auto to : vrrp::all_states)
      vrrp_transitions.Remove(&vrrp_transitions.Add({{"instance", name}, {"to", vrrp::to_string(to)}}));
    vrrp_split_brains.Remove(&vrrp_split_brains.Add({{"instance", name}}));
  }
  vrrp_instances = std::move(next);
}

exporter::exporter() : impl_(std::make_unique<impl>()) {}

exporter::~exporter() = default;

void exporter::set_generation(generation::snapshot_ptr gen) {
  impl_->track_servers(gen.get());
  impl_->snapshot.set_generation(std::move(gen));
}

const generation::snapshot_ptr& exporter::generation() const {
  return impl_->snapshot.generation();
}

void exporter::set_buffer_memory_source(std::function<double()> source) {
  impl_->snapshot.set_buffer_memory_source(std::move(source));
}

void exporter::set_worker_source(std::function<std::vector<worker_sample>()> source) {
  impl_->snapshot.set_worker_source(std::move(source));
}

void exporter::set_vrrp(std::vector<vrrp_status> instances) {
  impl_->track_vrrp(instances);
  impl_->snapshot.set_vrrp(std::move(instances));
}

const std::vector<vrrp_status>& exporter::vrrp() const { return impl_->snapshot.vrrp(); }

void exporter::set_anycast(std::vector<anycast::vip_status> vips) { impl_->snapshot.set_anycast(std::move(vips)); }

const std::vector<anycast::vip_status>& exporter::anycast() const { return impl_->snapshot.anycast(); }

void exporter::on_probe(const backend::backend& b, const backend::server& s, bool passed,
                        std::chrono::duration<double> took) {
  const auto it = impl_->servers.find({b.name(), s.name()});
  if (it == impl_->servers.end()) return;  // a server no longer exported
  it->second.duration->Observe(took.count());
  (passed ? it->second.success : it->second.failure)->Increment();
}

void exporter::on_vrrp_transition(const std::string& instance, vrrp::state to) {
  impl_->vrrp_transitions.Add({{"instance", instance}, {"to", vrrp::to_string(to)}}).Increment();
}

void exporter::on_vrrp_drop(const std::string& instance, const std::string& reason) {
  impl_->vrrp_drops.Add({{"instance", instance}, {"reason", reason}}).Increment();
}

void exporter::on_vrrp_split_brain(const std::string& instance) {
  impl_->vrrp_split_brains.Add({{"instance", instance}}).Increment();
}

void exporter::on_config_loaded(std::chrono::system_clock::time_point when) {
  impl_->last_success.Set(std::chrono::duration<double>(when.time_since_epoch()).count());
}

void exporter::on_reload(bool ok, std::chrono::system_clock::time_point when) {
  if (!ok) return impl_->reload_failure.Increment();
  impl_->reload_success.Increment();
  on_config_loaded(when);
}

void exporter::on_upgrade(bool ok) {
  (ok ? impl_->upgrade_success : impl_->upgrade_failure).Increment();
}

std::string exporter::serialize() const {
  return prometheus::TextSerializer().Serialize(impl_->collect());
}

std::string exporter::counters_state() const { return cumulative_samples(impl_->collect()); }

void exporter::inherit_counters(const std::string& state) { impl_->inherited.assign(state); }

}  // namespace cplb::metrics
