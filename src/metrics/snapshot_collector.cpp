#include "snapshot_collector.hpp"


#include "family_builder.hpp"

namespace cplb::metrics {

using prometheus::MetricType;

namespace {

void add_to(backend::counter_totals& sum, const backend::counter_totals& t) {
  sum.connections += t.connections;
  sum.connect_failures += t.connect_failures;
  sum.bytes_sent += t.bytes_sent;
  sum.bytes_received += t.bytes_received;
  sum.rebalanced += t.rebalanced;
}

}  // namespace

void snapshot_collector::set_generation(generation::snapshot_ptr gen) {
  std::map<server_key, series> next;
  if (gen && gen->backends) {
    for (const auto& b : gen->backends->all()) {
      for (const auto& s : b->servers()) {
        const server_key key{b->name(), s->name()};
        series& n = next[key];
        n.current = s;
        const auto old = servers_.find(key);
        if (old == servers_.end()) continue;
        n.base = old->second.base;
        n.retired = std::move(old->second.retired);
        if (old->second.current != s) n.retired.push_back(old->second.current);
        // A replaced server without sessions gets no more traffic: fold its totals in for good.
        std::erase_if(n.retired, [&n](const backend::server_ptr& r) {
          if (r->active_sessions() > 0) return false;
          add_to(n.base, r->totals());
          return true;
        });
      }
    }
  }
  servers_ = std::move(next);
  generation_ = std::move(gen);
}

std::vector<prometheus::MetricFamily> snapshot_collector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  if (generation_ && generation_->backends) add_server_families(out);
  if (generation_) add_frontend_families(out);
  add_vrrp_families(out);
  add_anycast_family(out);
  family_builder buffers("buffer_memory_bytes", "Bytes all sessions hold for slow peers",
                         MetricType::Gauge);
  buffers.add({}, buffer_memory_ ? buffer_memory_() : 0);
  out.push_back(buffers.take());
  if (workers_) add_worker_families(out);
  return out;
}

void snapshot_collector::add_server_families(std::vector<prometheus::MetricFamily>& out) const {
  family_builder up("server_up", "1 while the server passes its health check", MetricType::Gauge);
  family_builder active("server_active_connections", "Sessions open to the server",
                        MetricType::Gauge);
  family_builder connections("server_connections_total", "Sessions established to the server",
                             MetricType::Counter);
  family_builder failures("server_connect_failures_total",
                          "Data-path connects to the server that failed", MetricType::Counter);
  family_builder sent("server_bytes_sent_total", "Bytes sent to the server", MetricType::Counter);
  family_builder received("server_bytes_received_total", "Bytes received from the server",
                          MetricType::Counter);
  family_builder all_down("backend_all_down", "1 while no server of the backend is up",
                          MetricType::Gauge);
  family_builder state("server_state", "1 on the server's current state", MetricType::Gauge);
  family_builder rebalanced("rebalance_closed_sessions_total",
                            "Sessions closed to move them off an over-full server",
                            MetricType::Counter);

  for (const auto& b : generation_->backends->all()) {
    all_down.add({{"backend", b->name()}}, b->all_down() ? 1 : 0);
    for (const auto& s : b->servers()) {
      const auto it = servers_.find({b->name(), s->name()});
      if (it == servers_.end() || it->second.current != s) continue;  // a duplicate name
      const series& ser = it->second;
      backend::counter_totals t = ser.base;
      add_to(t, s->totals());
      std::int64_t sessions = s->active_sessions();
      for (const auto& r : ser.retired) {
        add_to(t, r->totals());
        sessions += r->active_sessions();
      }
      const std::vector<prometheus::ClientMetric::Label> labels{{"backend", b->name()},
                                                                {"server", s->name()}};
      up.add(labels, s->up() ? 1 : 0);
      active.add(labels, static_cast<double>(sessions));
      connections.add(labels, static_cast<double>(t.connections));
      failures.add(labels, static_cast<double>(t.connect_failures));
      sent.add(labels, static_cast<double>(t.bytes_sent));
      received.add(labels, static_cast<double>(t.bytes_received));
      rebalanced.add(labels, static_cast<double>(t.rebalanced));
      const std::string_view current = backend::displayed_state(*b, *s);
      for (const char* name : backend::displayed_states) {
        auto with_state = labels;
        with_state.push_back({"state", name});
        state.add(with_state, current == name ? 1 : 0);
      }
    }
  }
  for (auto* f : {&up, &active, &connections, &failures, &sent, &received, &all_down, &state, &rebalanced})
    out.push_back(f->take());
}

void snapshot_collector::add_worker_families(std::vector<prometheus::MetricFamily>& out) const {
  family_builder active("worker_active_connections", "Client sessions open on the proxy worker",
                        MetricType::Gauge);
  family_builder bytes("worker_bytes_total", "Bytes the proxy worker passed on, both ways",
                       MetricType::Counter);
  family_builder cpu("worker_cpu_seconds_total", "CPU time of the proxy worker's thread",
                     MetricType::Counter);
  const auto samples = workers_();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::vector<prometheus::ClientMetric::Label> worker{{"worker", std::to_string(i)}};
    active.add(worker, static_cast<double>(samples[i].active_sessions));
    bytes.add(worker, static_cast<double>(samples[i].bytes));
    cpu.add(worker, samples[i].cpu_seconds);
  }
  for (auto* f : {&active, &bytes, &cpu}) out.push_back(f->take());
}

void snapshot_collector::add_frontend_families(std::vector<prometheus::MetricFamily>& out) const {
  family_builder connections("frontend_connections_total", "Client connections accepted",
                             MetricType::Counter);
  family_builder active("frontend_active_connections", "Client sessions open",
                        MetricType::Gauge);
  family_builder rejected("frontend_rejected_connections_total",
                          "Client connections closed at once, by reason", MetricType::Counter);
  family_builder pauses("frontend_accept_pauses_total",
                        "Times accepting paused for lack of descriptors or memory",
                        MetricType::Counter);
  family_builder ends("session_ends_total", "Client sessions ended, by reason",
                      MetricType::Counter);
  for (const auto& f : generation_->frontends) {
    const generation::frontend_totals t = f.stats->totals();
    const std::string& name = f.config.name;
    connections.add({{"frontend", name}}, static_cast<double>(t.connections));
    active.add({{"frontend", name}}, static_cast<double>(t.active));
    rejected.add({{"frontend", name}, {"reason", "max_connections"}},
                 static_cast<double>(t.rejected_max));
    rejected.add({{"frontend", name}, {"reason", "no_server"}},
                 static_cast<double>(t.rejected_no_server));
    rejected.add({{"frontend", name}, {"reason", "per_source"}},
                 static_cast<double>(t.rejected_per_source));
    pauses.add({{"frontend", name}}, static_cast<double>(t.accept_pauses));
    for (const auto why : generation::all_session_ends)
      ends.add({{"frontend", name}, {"reason", generation::to_string(why)}},
               static_cast<double>(t.ends[static_cast<std::size_t>(why)]));
  }
  for (auto* f : {&connections, &active, &rejected, &pauses, &ends}) out.push_back(f->take());
}

void snapshot_collector::add_vrrp_families(std::vector<prometheus::MetricFamily>& out) const {
  family_builder state("vrrp_state", "1 on the instance's current VRRP state",
                       MetricType::Gauge);
  family_builder priority("vrrp_effective_priority", "The priority the instance advertises",
                          MetricType::Gauge);
  for (const auto& v : vrrp_) {
    for (const auto s : vrrp::all_states)
      state.add({{"instance", v.name}, {"state", vrrp::to_string(s)}}, v.state == s ? 1 : 0);
    priority.add({{"instance", v.name}}, v.effective_priority);
  }
  out.push_back(state.take());
  out.push_back(priority.take());
}

void snapshot_collector::add_anycast_family(std::vector<prometheus::MetricFamily>& out) const {
  family_builder announced("anycast_announced", "1 while the anycast VIP's route is in its kernel table",
                           MetricType::Gauge);
  for (const auto& v : anycast_) announced.add({{"name", v.name}, {"vip", v.vip.to_string()}}, v.announced ? 1 : 0);
  out.push_back(announced.take());
}

}  // namespace cplb::metrics
