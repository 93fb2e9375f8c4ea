#pragma once
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cplb/anycast/announcer.hpp"
#include "cplb/metrics/vrrp_status.hpp"
#include "cplb/metrics/worker_sample.hpp"
#include "cplb/generation/generation.hpp"

namespace cplb::metrics {

/// The backend and server names that label a server's series.
using server_key = std::pair<std::string, std::string>;

/// The families read from live state at scrape time: server and frontend counters (summed over
/// the workers' slots), server and backend state, VRRP state and priority.
class snapshot_collector final : public prometheus::Collectable {
 public:
  /// Exports `gen`, carrying counters over to servers replaced under the same key.
  void set_generation(generation::snapshot_ptr gen);
  /// The generation last set.
  const generation::snapshot_ptr& generation() const { return generation_; }
  /// Where cplb_buffer_memory_bytes comes from.
  void set_buffer_memory_source(std::function<double()> source) { buffer_memory_ = std::move(source); }
  /// Where the cplb_worker_* families come from.
  void set_worker_source(std::function<std::vector<worker_sample>()> source) { workers_ = std::move(source); }
  /// Replaces the VRRP instances.
  void set_vrrp(std::vector<vrrp_status> instances) { vrrp_ = std::move(instances); }
  /// The VRRP instances last set.
  const std::vector<vrrp_status>& vrrp() const { return vrrp_; }
  /// Replaces the anycast VIPs.
  void set_anycast(std::vector<anycast::vip_status> vips) { anycast_ = std::move(vips); }
  /// The anycast VIPs last set.
  const std::vector<anycast::vip_status>& anycast() const { return anycast_; }

  /// The families of the current snapshot.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  /// The objects whose counters one server series adds up.
  struct series {
    backend::server_ptr current;                 ///< the server in the generation
    std::vector<backend::server_ptr> retired;    ///< replaced servers with sessions left
    backend::counter_totals base;                ///< final totals of replaced idle servers
  };

  void add_server_families(std::vector<prometheus::MetricFamily>& out) const;
  void add_worker_families(std::vector<prometheus::MetricFamily>& out) const;
  void add_frontend_families(std::vector<prometheus::MetricFamily>& out) const;
  void add_vrrp_families(std::vector<prometheus::MetricFamily>& out) const;
  void add_anycast_family(std::vector<prometheus::MetricFamily>& out) const;

  generation::snapshot_ptr generation_;
  std::map<server_key, series> servers_;
  std::vector<vrrp_status> vrrp_;
  std::vector<anycast::vip_status> anycast_;
  std::function<double()> buffer_memory_;
  std::function<std::vector<worker_sample>()> workers_;
};

}  // namespace cplb::metrics
