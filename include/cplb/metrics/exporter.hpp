#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cplb/anycast/announcer.hpp"
#include "cplb/backend/backend.hpp"
#include "cplb/generation/generation.hpp"
#include "cplb/metrics/vrrp_status.hpp"
#include "cplb/metrics/worker_sample.hpp"

namespace cplb::metrics {

/// The metric families of CONTRACT.md, prefixed `cplb_`. Data-path counters and live state are
/// read from the generation at scrape time; events (probes, VRRP transitions, reloads) are counted
/// as they are reported. Every member runs on the control thread.
class exporter {
 public:
  /// An exporter with no generation and no VRRP instance yet.
  exporter();
  ~exporter();
  exporter(const exporter&) = delete;
  exporter& operator=(const exporter&) = delete;

  /// Exports the frontends and servers of `gen` (at start and after each reload). Servers and
  /// frontends no longer in `gen` leave the output; a server replaced under the same backend and
  /// server name (its address changed) carries its counters on, so none goes backwards.
  void set_generation(generation::snapshot_ptr gen);
  /// The generation last set (null before the first).
  const generation::snapshot_ptr& generation() const;

  /// Where cplb_buffer_memory_bytes is read at scrape time (the proxy's buffer account).
  void set_buffer_memory_source(std::function<double()> source);
  /// Where the cplb_worker_* families are read at scrape time (the proxy's workers).
  void set_worker_source(std::function<std::vector<worker_sample>()> source);

  /// Replaces the VRRP instances shown (call on every state or priority change and on reload);
  /// instances no longer listed leave the output.
  void set_vrrp(std::vector<vrrp_status> instances);
  /// The VRRP instances last set.
  const std::vector<vrrp_status>& vrrp() const;

  /// Replaces the anycast VIPs shown (call on every change and on reload).
  void set_anycast(std::vector<anycast::vip_status> vips);
  /// The anycast VIPs last set.
  const std::vector<anycast::vip_status>& anycast() const;

  /// A health probe of `s` in `b` finished, `passed` or not, after `took`.
  void on_probe(const backend::backend& b, const backend::server& s, bool passed,
                std::chrono::duration<double> took);
  /// VRRP instance `instance` entered state `to`.
  void on_vrrp_transition(const std::string& instance, vrrp::state to);
  /// VRRP instance `instance` dropped a packet before its state machine saw it, for `reason`.
  void on_vrrp_drop(const std::string& instance, const std::string& reason);
  /// VRRP instance `instance`, as master, heard another master it did not expect.
  void on_vrrp_split_brain(const std::string& instance);
  /// The config was loaded at start, at `when`: sets the last-success timestamp only.
  void on_config_loaded(std::chrono::system_clock::time_point when);
  /// A reload (SIGHUP) ended at `when`, applied (`ok`) or rejected.
  void on_reload(bool ok, std::chrono::system_clock::time_point when);

  /// A binary upgrade (SIGUSR2) ended: the new process counts its success once it has taken
  /// over, the old one a failure.
  void on_upgrade(bool ok);

  /// Everything in the Prometheus text format 0.0.4.
  std::string serialize() const;

  /// The value of every counter and histogram series shown now (inherited counts included), one
  /// text-format sample line each: `name{label="value",...} value`, labels sorted by name. For
  /// the new process of a binary upgrade, to pass to inherit_counters().
  std::string counters_state() const;
  /// Takes over the counts of the old process of a binary upgrade (its counters_state()): from
  /// now on each series of the same name and labels shows the inherited value plus its own.
  /// Inherited series not shown here stay hidden, and continue from their value if they appear
  /// (a server added back, a first VRRP drop). Unreadable lines are skipped; a second call
  /// replaces what the first inherited.
  void inherit_counters(const std::string& state);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cplb::metrics
