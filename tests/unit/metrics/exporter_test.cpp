#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "cplb/metrics/exporter.hpp"
#include "exposition.hpp"
#include "fixture.hpp"
#include "promtool.hpp"

using namespace cplb;
using metrics::test::test_generation;
using labels = std::map<std::string, std::string>;
using label_names = std::set<std::set<std::string>>;

namespace {

using namespace std::chrono_literals;

const auto reload_time = std::chrono::system_clock::time_point(1'700'000'000s);

/// A runtime with known counters and states, and an exporter of it with some events.
struct scene {
  config::config cfg = metrics::test::sample_config();
  test_generation gen = test_generation::build(cfg, nullptr);
  metrics::exporter exporter;

  scene() {
    auto& m1 = gen.server("control-plane", "m1");
    auto& m2 = gen.server("control-plane", "m2");
    m1.set_state(backend::server_state::up, backend::down_reason::none, "");
    m2.set_state(backend::server_state::down, backend::down_reason::refused, "connection refused");
    gen.server("etcd", "e1").set_state(backend::server_state::down, backend::down_reason::timeout, "");

    m1.counters(0).connections.store(5);
    m1.counters(1).connections.store(7);
    m1.counters(1).connect_failures.store(2);
    m1.counters(0).bytes_sent.store(10'000'000'000);
    m1.counters(1).bytes_sent.store(1);
    m1.counters(0).bytes_received.store(123'456);
    m2.counters(1).connections.store(2);
    for (int i = 0; i < 3; ++i) m1.session_opened();
    m2.session_opened();

    auto& fe = gen.frontend("kube-apiserver");
    fe.worker(0).connections.store(4);
    fe.worker(1).connections.store(6);
    fe.worker(0).rejected_max.store(2);
    fe.worker(1).rejected_no_server.store(1);
    fe.worker(0).active.store(2);
    fe.worker(1).active.store(1);
    fe.worker(1).accept_pauses.store(1);
    fe.worker(0).count_end(generation::session_end::client_closed);
    fe.worker(1).count_end(generation::session_end::client_closed);
    fe.worker(1).count_end(generation::session_end::drained);

    exporter.set_generation(gen.snapshot);
    exporter.set_vrrp({{"VI_1", vrrp::state::master, 100}, {"VI_2", vrrp::state::backup, 50}});
    exporter.on_vrrp_drop("VI_1", "not_a_peer");
  }

  void probe(const std::string& server, bool passed, std::chrono::duration<double> took) {
    exporter.on_probe(gen.backend("control-plane"), gen.server("control-plane", server), passed, took);
  }

  metrics::test::exposition scrape() const { return metrics::test::parse(exporter.serialize()); }
};

/// A family of CONTRACT.md's Metrics table.
struct contract_family {
  std::string name;
  std::string type;
  std::set<std::string> labels;
};

const std::vector<contract_family> contract = {
    {"cplb_server_up", "gauge", {"backend", "server"}},
    {"cplb_server_active_connections", "gauge", {"backend", "server"}},
    {"cplb_server_connections_total", "counter", {"backend", "server"}},
    {"cplb_server_connect_failures_total", "counter", {"backend", "server"}},
    {"cplb_server_bytes_sent_total", "counter", {"backend", "server"}},
    {"cplb_server_bytes_received_total", "counter", {"backend", "server"}},
    {"cplb_health_check_duration_seconds", "histogram", {"backend", "server"}},
    {"cplb_health_checks_total", "counter", {"backend", "server", "result"}},
    {"cplb_frontend_connections_total", "counter", {"frontend"}},
    {"cplb_frontend_active_connections", "gauge", {"frontend"}},
    {"cplb_frontend_rejected_connections_total", "counter", {"frontend", "reason"}},
    {"cplb_frontend_accept_pauses_total", "counter", {"frontend"}},
    {"cplb_session_ends_total", "counter", {"frontend", "reason"}},
    {"cplb_server_state", "gauge", {"backend", "server", "state"}},
    {"cplb_rebalance_closed_sessions_total", "counter", {"backend", "server"}},
    {"cplb_buffer_memory_bytes", "gauge", {}},
    {"cplb_vrrp_dropped_adverts_total", "counter", {"instance", "reason"}},
    {"cplb_backend_all_down", "gauge", {"backend"}},
    {"cplb_vrrp_state", "gauge", {"instance", "state"}},
    {"cplb_vrrp_effective_priority", "gauge", {"instance"}},
    {"cplb_vrrp_transitions_total", "counter", {"instance", "to"}},
    {"cplb_vrrp_split_brains_total", "counter", {"instance"}},
    {"cplb_config_reloads_total", "counter", {"result"}},
    {"cplb_config_last_reload_success_timestamp_seconds", "gauge", {}},
    {"cplb_upgrades_total", "counter", {"result"}},
};

}  // namespace

TEST_CASE("every contract family is exported with its type and label names") {
  scene s;
  const auto e = s.scrape();
  for (const auto& f : contract) {
    INFO(f.name);
    REQUIRE(e.types.count(f.name) == 1);
    CHECK(e.types.at(f.name) == f.type);
    if (f.type == "histogram") {
      auto with_le = f.labels;
      with_le.insert("le");
      CHECK(e.label_names(f.name + "_bucket") == label_names{with_le});
      CHECK(e.label_names(f.name + "_sum") == label_names{f.labels});
      CHECK(e.label_names(f.name + "_count") == label_names{f.labels});
    } else {
      CHECK(e.label_names(f.name) == label_names{f.labels});
    }
  }
  // Nothing beyond the table and its documented extras.
  CHECK(e.types.size() == contract.size());
}

TEST_CASE("server and backend families read the servers") {
  scene s;
  const auto e = s.scrape();
  const labels m1{{"backend", "control-plane"}, {"server", "m1"}};
  const labels m2{{"backend", "control-plane"}, {"server", "m2"}};
  const labels m3{{"backend", "control-plane"}, {"server", "m3"}};
  CHECK(e.value("cplb_server_up", m1) == 1);
  CHECK(e.value("cplb_server_up", m2) == 0);
  CHECK(e.value("cplb_server_up", m3) == 0);
  CHECK(e.value("cplb_server_connections_total", m1) == 12);
  CHECK(e.value("cplb_server_connections_total", m2) == 2);
  CHECK(e.value("cplb_server_connections_total", m3) == 0);
  CHECK(e.value("cplb_server_connect_failures_total", m1) == 2);
  CHECK(e.value("cplb_server_bytes_sent_total", m1) == 10'000'000'001.0);
  CHECK(e.value("cplb_server_bytes_received_total", m1) == 123'456);
  CHECK(e.value("cplb_server_active_connections", m1) == 3);
  CHECK(e.value("cplb_server_active_connections", m2) == 1);
  CHECK(e.value("cplb_server_up", {{"backend", "etcd"}, {"server", "e1"}}) == 0);
  CHECK(e.value("cplb_backend_all_down", {{"backend", "control-plane"}}) == 0);
  CHECK(e.value("cplb_backend_all_down", {{"backend", "etcd"}}) == 1);
}

TEST_CASE("frontend families sum the workers' slots") {
  scene s;
  const auto e = s.scrape();
  const labels fe{{"frontend", "kube-apiserver"}};
  CHECK(e.value("cplb_frontend_connections_total", fe) == 10);
  CHECK(e.value("cplb_frontend_active_connections", fe) == 3);
  CHECK(e.value("cplb_frontend_accept_pauses_total", fe) == 1);
  CHECK(e.value("cplb_frontend_rejected_connections_total",
                {{"frontend", "kube-apiserver"}, {"reason", "max_connections"}}) == 2);
  CHECK(e.value("cplb_frontend_rejected_connections_total",
                {{"frontend", "kube-apiserver"}, {"reason", "no_server"}}) == 1);
  CHECK(e.value("cplb_frontend_connections_total", {{"frontend", "etcd"}}) == 0);
}

TEST_CASE("session ends are exported per frontend for every reason, zero or not") {
  scene s;
  const auto e = s.scrape();
  const auto ends = [&](const char* frontend, const char* reason) {
    return e.value("cplb_session_ends_total", {{"frontend", frontend}, {"reason", reason}});
  };
  CHECK(ends("kube-apiserver", "client_closed") == 2);
  CHECK(ends("kube-apiserver", "drained") == 1);
  for (const auto why : generation::all_session_ends) {
    const std::string reason = generation::to_string(why);
    INFO(reason);
    if (reason != "client_closed" && reason != "drained") CHECK(ends("kube-apiserver", reason.c_str()) == 0);
    CHECK(ends("etcd", reason.c_str()) == 0);
  }
}

TEST_CASE("VRRP families show the state, priority and transitions") {
  scene s;
  s.exporter.on_vrrp_transition("VI_1", vrrp::state::backup);
  s.exporter.on_vrrp_transition("VI_1", vrrp::state::master);
  s.exporter.on_vrrp_transition("VI_1", vrrp::state::master);
  auto e = s.scrape();
  CHECK(e.value("cplb_vrrp_state", {{"instance", "VI_1"}, {"state", "master"}}) == 1);
  for (const char* other : {"init", "backup", "fault"})
    CHECK(e.value("cplb_vrrp_state", {{"instance", "VI_1"}, {"state", other}}) == 0);
  CHECK(e.value("cplb_vrrp_state", {{"instance", "VI_2"}, {"state", "backup"}}) == 1);
  CHECK(e.value("cplb_vrrp_effective_priority", {{"instance", "VI_1"}}) == 100);
  CHECK(e.value("cplb_vrrp_effective_priority", {{"instance", "VI_2"}}) == 50);
  CHECK(e.value("cplb_vrrp_transitions_total", {{"instance", "VI_1"}, {"to", "master"}}) == 2);
  CHECK(e.value("cplb_vrrp_transitions_total", {{"instance", "VI_1"}, {"to", "backup"}}) == 1);
  CHECK(e.value("cplb_vrrp_transitions_total", {{"instance", "VI_2"}, {"to", "fault"}}) == 0);
  CHECK(e.value("cplb_vrrp_split_brains_total", {{"instance", "VI_2"}}) == 0);

  SECTION("split brains are counted per instance") {
    s.exporter.on_vrrp_split_brain("VI_1");
    s.exporter.on_vrrp_split_brain("VI_1");
    e = s.scrape();
    CHECK(e.value("cplb_vrrp_split_brains_total", {{"instance", "VI_1"}}) == 2);
    CHECK(e.value("cplb_vrrp_split_brains_total", {{"instance", "VI_2"}}) == 0);
  }

  SECTION("an instance removed leaves the output") {
    s.exporter.set_vrrp({{"VI_1", vrrp::state::master, 100}});
    e = s.scrape();
    CHECK(e.count_with("instance", "VI_2") == 0);
    CHECK(e.value("cplb_vrrp_transitions_total", {{"instance", "VI_1"}, {"to", "master"}}) == 2);
  }
}

TEST_CASE("the anycast gauge is 1 on each announced VIP, and a VIP removed leaves the output") {
  scene s;
  CHECK(s.scrape().types.count("cplb_anycast_announced") == 0);  // no anycast: no family
  s.exporter.set_anycast({{"api", *ip_address::parse("192.0.2.100"), 198, true, ""},
                          {"api", *ip_address::parse("2001:db8::100"), 198, false, "shutting down"}});
  auto e = s.scrape();
  CHECK(e.types.at("cplb_anycast_announced") == "gauge");
  CHECK(e.label_names("cplb_anycast_announced") == label_names{{"name", "vip"}});
  CHECK(e.value("cplb_anycast_announced", {{"name", "api"}, {"vip", "192.0.2.100"}}) == 1);
  CHECK(e.value("cplb_anycast_announced", {{"name", "api"}, {"vip", "2001:db8::100"}}) == 0);
  s.exporter.set_anycast({{"api", *ip_address::parse("192.0.2.100"), 198, true, ""}});
  CHECK(s.scrape().count_with("vip", "2001:db8::100") == 0);
}

TEST_CASE("probes feed the health families") {
  scene s;
  s.probe("m1", true, 20ms);
  s.probe("m1", true, 30ms);
  s.probe("m2", false, 1s);
  const auto e = s.scrape();
  const labels m1{{"backend", "control-plane"}, {"server", "m1"}};
  const labels m2{{"backend", "control-plane"}, {"server", "m2"}};
  CHECK(e.value("cplb_health_checks_total",
                {{"backend", "control-plane"}, {"server", "m1"}, {"result", "success"}}) == 2);
  CHECK(e.value("cplb_health_checks_total",
                {{"backend", "control-plane"}, {"server", "m1"}, {"result", "failure"}}) == 0);
  CHECK(e.value("cplb_health_checks_total",
                {{"backend", "control-plane"}, {"server", "m2"}, {"result", "failure"}}) == 1);
  CHECK(e.value("cplb_health_check_duration_seconds_count", m1) == 2);
  CHECK(e.value("cplb_health_check_duration_seconds_sum", m1) == Approx(0.05));
  CHECK(e.value("cplb_health_check_duration_seconds_bucket",
                {{"backend", "control-plane"}, {"server", "m1"}, {"le", "0.025"}}) == 1);
  CHECK(e.value("cplb_health_check_duration_seconds_bucket",
                {{"backend", "control-plane"}, {"server", "m1"}, {"le", "0.05"}}) == 2);
  CHECK(e.value("cplb_health_check_duration_seconds_bucket",
                {{"backend", "control-plane"}, {"server", "m2"}, {"le", "0.5"}}) == 0);
  CHECK(e.value("cplb_health_check_duration_seconds_bucket",
                {{"backend", "control-plane"}, {"server", "m2"}, {"le", "1"}}) == 1);
  CHECK(e.value("cplb_health_check_duration_seconds_bucket",
                {{"backend", "control-plane"}, {"server", "m2"}, {"le", "+Inf"}}) == 1);
  CHECK(e.value("cplb_health_check_duration_seconds_count", m2) == 1);
}

TEST_CASE("reloads are counted and time-stamped") {
  scene s;
  auto e = s.scrape();
  CHECK(e.value("cplb_config_reloads_total", {{"result", "success"}}) == 0);
  CHECK(e.value("cplb_config_reloads_total", {{"result", "failure"}}) == 0);
  CHECK(e.value("cplb_config_last_reload_success_timestamp_seconds") == 0);

  s.exporter.on_config_loaded(reload_time);
  e = s.scrape();
  CHECK(e.value("cplb_config_reloads_total", {{"result", "success"}}) == 0);
  CHECK(e.value("cplb_config_last_reload_success_timestamp_seconds") == 1'700'000'000);

  s.exporter.on_reload(false, reload_time + 10s);
  s.exporter.on_reload(true, reload_time + 20s);
  s.exporter.on_reload(false, reload_time + 30s);
  e = s.scrape();
  CHECK(e.value("cplb_config_reloads_total", {{"result", "success"}}) == 1);
  CHECK(e.value("cplb_config_reloads_total", {{"result", "failure"}}) == 2);
  CHECK(e.value("cplb_config_last_reload_success_timestamp_seconds") == 1'700'000'020);
}

TEST_CASE("a reload keeps the counters of kept servers and drops removed ones") {
  scene s;
  s.probe("m1", true, 10ms);
  s.probe("m3", false, 10ms);

  // m3 removed; m2 moves to another address, so it is a new server object under the same name.
  auto next_cfg = s.cfg;
  auto& servers = next_cfg.backends[0].servers;
  servers.pop_back();
  servers[1].address = *socket_address::parse("10.0.0.99:6443");
  const test_generation next = test_generation::build(next_cfg, &s.gen);
  REQUIRE(&next.server("control-plane", "m1") == &s.gen.server("control-plane", "m1"));
  auto& old_m2 = s.gen.server("control-plane", "m2");
  auto& new_m2 = next.server("control-plane", "m2");
  REQUIRE(&new_m2 != &old_m2);

  s.exporter.set_generation(next.snapshot);
  new_m2.counters(0).connections.store(1);
  auto e = s.scrape();
  CHECK(e.count_with("server", "m3") == 0);
  CHECK(e.value("cplb_server_connections_total", {{"backend", "control-plane"}, {"server", "m1"}}) == 12);
  CHECK(e.value("cplb_frontend_connections_total", {{"frontend", "kube-apiserver"}}) == 10);
  CHECK(e.value("cplb_health_checks_total",
                {{"backend", "control-plane"}, {"server", "m1"}, {"result", "success"}}) == 1);
  // The old m2 still has a session: what it sends still counts, and so does its past.
  const labels m2{{"backend", "control-plane"}, {"server", "m2"}};
  CHECK(e.value("cplb_server_connections_total", m2) == 3);
  CHECK(e.value("cplb_server_active_connections", m2) == 1);
  old_m2.counters(0).bytes_sent.store(500);
  old_m2.session_closed();
  CHECK(s.scrape().value("cplb_server_bytes_sent_total", m2) == 500);

  SECTION("a replaced server's totals stay after it is let go") {
    s.exporter.set_generation(test_generation::build(next_cfg, &next).snapshot);
    e = s.scrape();
    CHECK(e.value("cplb_server_connections_total", m2) == 3);
    CHECK(e.value("cplb_server_bytes_sent_total", m2) == 500);
    CHECK(e.value("cplb_server_active_connections", m2) == 0);
  }
}

TEST_CASE("promtool accepts the exposition") {
  scene s;
  s.probe("m1", true, 20ms);
  s.exporter.on_vrrp_transition("VI_1", vrrp::state::master);
  s.exporter.on_reload(true, reload_time);
  s.exporter.set_anycast({{"api", *ip_address::parse("192.0.2.100"), 198, true, ""}});
  const std::string text = s.exporter.serialize();
  const auto verdict = metrics::test::promtool_check(text);
  if (!verdict) {
    WARN(std::string(metrics::test::promtool_path) +
         " is missing (Debian package `prometheus`): promtool check skipped");
    return;
  }
  INFO(text);
  INFO(verdict->output);
  CHECK(verdict->exit_status == 0);
}

namespace {

/// Whether `s` is a counter sample or a histogram's bucket, sum or count.
bool cumulative(const metrics::test::exposition& e, const metrics::test::sample& s) {
  const auto type = [&e](const std::string& family) {
    const auto it = e.types.find(family);
    return it == e.types.end() ? "" : it->second;
  };
  for (const std::string suffix : {"_bucket", "_sum", "_count"})
    if (s.name.ends_with(suffix) && type(s.name.substr(0, s.name.size() - suffix.size())) == "histogram")
      return true;
  return type(s.name) == "counter";
}

std::string describe(const metrics::test::sample& s) {
  std::string out = s.name;
  for (const auto& [k, v] : s.labels) out += " " + k + "=" + v;
  return out;
}

}  // namespace

TEST_CASE("a binary upgrade carries every counter and histogram series over") {
  scene old;
  old.probe("m1", true, 20ms);
  old.probe("m2", false, 2s);
  old.exporter.on_vrrp_transition("VI_1", vrrp::state::master);
  old.exporter.on_reload(true, reload_time);
  old.exporter.on_upgrade(false);
  const auto before = old.scrape();
  const std::string state = old.exporter.counters_state();

  // The new process: the same config, counters of its own from zero, a little activity.
  const test_generation gen = test_generation::build(old.cfg, nullptr);
  metrics::exporter fresh;
  fresh.set_generation(gen.snapshot);
  fresh.set_vrrp(old.exporter.vrrp());
  gen.server("control-plane", "m1").counters(0).connections.store(1);
  gen.frontend("kube-apiserver").worker(1).connections.store(1);
  fresh.on_probe(gen.backend("control-plane"), gen.server("control-plane", "m1"), true, 20ms);
  fresh.on_vrrp_transition("VI_1", vrrp::state::master);
  const auto own = metrics::test::parse(fresh.serialize());

  fresh.inherit_counters(state);
  fresh.on_upgrade(true);
  const auto after = metrics::test::parse(fresh.serialize());

  // Every series: a counter or histogram one is the old value plus the new; a gauge the new.
  std::size_t carried = 0;
  for (const auto& s : after.samples) {
    INFO(describe(s));
    if (s.name == "cplb_upgrades_total") continue;  // counted after the hand-over, below
    const auto mine = own.value(s.name, s.labels);
    REQUIRE(mine);
    if (!cumulative(after, s)) {
      CHECK(s.value == *mine);
      continue;
    }
    const auto inherited = before.value(s.name, s.labels);
    REQUIRE(inherited);
    CHECK(s.value == Approx(*inherited + *mine));
    ++carried;
  }
  CHECK(carried > 100);
  CHECK(after.value("cplb_upgrades_total", {{"result", "success"}}) == 1);
  CHECK(after.value("cplb_upgrades_total", {{"result", "failure"}}) == 1);

  // A few by hand.
  const labels m1{{"backend", "control-plane"}, {"server", "m1"}};
  CHECK(after.value("cplb_server_connections_total", m1) == 13);
  CHECK(after.value("cplb_server_bytes_sent_total", m1) == 10'000'000'001.0);
  CHECK(after.value("cplb_frontend_connections_total", {{"frontend", "kube-apiserver"}}) == 11);
  CHECK(after.value("cplb_health_check_duration_seconds_bucket",
                    {{"backend", "control-plane"}, {"server", "m1"}, {"le", "0.025"}}) == 2);
  CHECK(after.value("cplb_health_check_duration_seconds_bucket",
                    {{"backend", "control-plane"}, {"server", "m2"}, {"le", "+Inf"}}) == 1);
  CHECK(after.value("cplb_health_check_duration_seconds_sum", m1) == Approx(0.04));
  CHECK(after.value("cplb_vrrp_transitions_total", {{"instance", "VI_1"}, {"to", "master"}}) == 2);
  CHECK(after.value("cplb_config_reloads_total", {{"result", "success"}}) == 1);
  CHECK(after.value("cplb_server_active_connections", m1) == 0);
  CHECK(after.value("cplb_config_last_reload_success_timestamp_seconds") == 0);

  SECTION("the state is the cumulative sample lines, and includes what was inherited") {
    CHECK(state.find("cplb_server_connections_total{backend=\"control-plane\",server=\"m1\"} 12\n") !=
          std::string::npos);
    CHECK(state.find("cplb_health_check_duration_seconds_bucket{backend=\"control-plane\",le=\"0.025\","
                     "server=\"m1\"} 1\n") != std::string::npos);
    const auto lines = metrics::test::parse(fresh.counters_state());
    CHECK(lines.samples.size() == carried + 2);
    for (const auto& s : lines.samples) {
      INFO(describe(s));
      CHECK(cumulative(after, s));
      CHECK(after.value(s.name, s.labels) == s.value);
    }
  }

  SECTION("promtool accepts the exposition") {
    const std::string text = fresh.serialize();
    const auto verdict = metrics::test::promtool_check(text);
    if (!verdict) return;  // said by "promtool accepts the exposition"
    INFO(text);
    INFO(verdict->output);
    CHECK(verdict->exit_status == 0);
  }
}

TEST_CASE("an inherited series the new process does not have stays hidden until it appears") {
  scene old;
  old.probe("m3", false, 10ms);
  const std::string odd = "odd \"reason\" \\ with\na newline";
  old.exporter.on_vrrp_drop("VI_1", odd);

  auto cfg = old.cfg;
  cfg.backends[0].servers.pop_back();  // m3 left the config before the upgrade
  const test_generation gen = test_generation::build(cfg, nullptr);
  metrics::exporter fresh;
  fresh.set_generation(gen.snapshot);
  fresh.inherit_counters(old.exporter.counters_state());
  auto e = metrics::test::parse(fresh.serialize());
  CHECK(e.count_with("server", "m3") == 0);
  CHECK(e.count_with("instance", "VI_1") == 0);
  CHECK(e.value("cplb_server_connections_total", {{"backend", "control-plane"}, {"server", "m1"}}) == 12);

  // A reload adds m3 back and moves m2 to a new address (a new server object), and VI_1 drops
  // adverts again: each continues from the inherited value.
  auto moved = old.cfg;
  moved.backends[0].servers[1].address = *socket_address::parse("10.0.0.99:6443");
  fresh.set_generation(test_generation::build(moved, &gen).snapshot);
  fresh.on_vrrp_drop("VI_1", "not_a_peer");
  fresh.on_vrrp_drop("VI_1", odd);
  e = metrics::test::parse(fresh.serialize());
  CHECK(e.value("cplb_health_checks_total",
                {{"backend", "control-plane"}, {"server", "m3"}, {"result", "failure"}}) == 1);
  CHECK(e.value("cplb_server_connections_total", {{"backend", "control-plane"}, {"server", "m2"}}) == 2);
  CHECK(e.value("cplb_vrrp_dropped_adverts_total", {{"instance", "VI_1"}, {"reason", "not_a_peer"}}) == 2);
  CHECK(e.value("cplb_vrrp_dropped_adverts_total", {{"instance", "VI_1"}, {"reason", odd}}) == 2);
}

TEST_CASE("inherit_counters reads sample lines and skips those it cannot read") {
  using namespace std::string_literals;
  scene s;
  const labels m1{{"backend", "control-plane"}, {"server", "m1"}};
  const labels kube{{"frontend", "kube-apiserver"}};
  s.exporter.inherit_counters(
      "# a comment\n\n"
      "cplb_health_checks_total{result=\"success\",server=\"m1\",backend=\"control-plane\"} 4\n"
      "cplb_server_connections_total{backend=\"control-plane\",server=\"m1\",} 1e3\n"
      "cplb_server_active_connections{backend=\"control-plane\",server=\"m1\"} 7\n"  // a gauge
      "cplb_config_reloads_total{result=\"success\"} 2");  // no final newline
  auto e = s.scrape();
  CHECK(e.value("cplb_health_checks_total",
                {{"backend", "control-plane"}, {"server", "m1"}, {"result", "success"}}) == 4);
  CHECK(e.value("cplb_server_connections_total", m1) == 1012);
  CHECK(e.value("cplb_server_active_connections", m1) == 3);
  CHECK(e.value("cplb_config_reloads_total", {{"result", "success"}}) == 2);

  const std::string k = "cplb_frontend_connections_total{frontend=\"kube-apiserver\"";
  const std::vector<std::string> unreadable = {
      k + "} -3", k + "} NaN", k + "} +Inf", k + "} 1e400", k + "} 0x10", k + "} 7x", k + "}7",
      k + "} 7 1700000000000", k + "}", k + "} ", k + " 7", k + ",frontend=\"etcd\"} 7",
      k + "frontend=\"etcd\"} 7", k + ",=\"x\"} 7", k + ",le} 7",
      "cplb_frontend_connections_total{frontend=\"kube-\\apiserver\"} 7",
      "cplb_frontend_connections_total{frontend=\"kube-apiserver} 7",
      "cplb_frontend_connections_total{frontend=kube-apiserver} 7",
      "cplb_frontend_connections_total{frontend=\"kube-apiserver\\",
      "cplb_frontend_connections_total{frontend=\"kube-apiserver\0\"} 7"s,
      "{frontend=\"kube-apiserver\"} 7",
      "\xff\xfe\x01 7",
  };
  for (const auto& line : unreadable) {
    INFO(line);
    // Each call replaces what the one before inherited.
    s.exporter.inherit_counters("cplb_frontend_connections_total{frontend=\"etcd\"} 5\n" + line +
                                "\ncplb_config_reloads_total{result=\"failure\"} 2\n");
    e = s.scrape();
    CHECK(e.value("cplb_frontend_connections_total", kube) == 10);
    CHECK(e.value("cplb_frontend_connections_total", {{"frontend", "etcd"}}) == 5);
    CHECK(e.value("cplb_config_reloads_total", {{"result", "failure"}}) == 2);
    CHECK(e.value("cplb_config_reloads_total", {{"result", "success"}}) == 0);
  }
}
