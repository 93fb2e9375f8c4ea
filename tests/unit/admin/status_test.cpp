#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "cplb/admin/health.hpp"
#include "cplb/admin/status.hpp"
#include "fixture.hpp"
#include "json_check.hpp"

using namespace cplb;
using metrics::test::test_generation;

namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("/healthz is ok while some frontend has a server up") {
  const auto gen = test_generation::build(metrics::test::sample_config(), nullptr);
  CHECK_FALSE(admin::check_health(nullptr).ok);
  auto v = admin::check_health(gen.snapshot.get());
  CHECK_FALSE(v.ok);
  CHECK(v.reason == "no frontend has a backend with a server up");

  gen.server("etcd", "e1").set_state(backend::server_state::up, backend::down_reason::none, "");
  CHECK(admin::check_health(gen.snapshot.get()).ok);
  gen.server("etcd", "e1").set_state(backend::server_state::down, backend::down_reason::refused, "");
  CHECK_FALSE(admin::check_health(gen.snapshot.get()).ok);

  auto cfg = metrics::test::sample_config();
  cfg.frontends.clear();
  const auto empty = test_generation::build(cfg, nullptr);
  CHECK_FALSE(admin::check_health(empty.snapshot.get()).ok);
}

TEST_CASE("a down server with sessions is draining only under on_server_down: drain") {
  auto cfg = metrics::test::sample_config();
  cfg.backends[1].on_server_down = config::on_server_down_policy::keep;
  const auto gen = test_generation::build(cfg, nullptr);
  const auto& cp = gen.backend("control-plane");
  auto& m1 = gen.server("control-plane", "m1");
  CHECK(std::string(backend::displayed_state(cp, m1)) == "unchecked");
  m1.set_state(backend::server_state::down, backend::down_reason::timeout, "");
  CHECK(std::string(backend::displayed_state(cp, m1)) == "down");
  m1.session_opened();
  CHECK(std::string(backend::displayed_state(cp, m1)) == "draining");
  m1.set_state(backend::server_state::not_ready, backend::down_reason::http_status, "500");
  CHECK(std::string(backend::displayed_state(cp, m1)) == "not_ready");  // its sessions are kept
  m1.set_state(backend::server_state::up, backend::down_reason::none, "");
  CHECK(std::string(backend::displayed_state(cp, m1)) == "up");

  auto& e1 = gen.server("etcd", "e1");
  e1.set_state(backend::server_state::down, backend::down_reason::timeout, "");
  e1.session_opened();
  CHECK(std::string(backend::displayed_state(gen.backend("etcd"), e1)) == "down");
}

TEST_CASE("/status is JSON with frontends, servers, VRRP, anycast and the config") {
  const auto gen = test_generation::build(metrics::test::sample_config(), nullptr);
  auto& m1 = gen.server("control-plane", "m1");
  auto& m2 = gen.server("control-plane", "m2");
  m1.set_state(backend::server_state::up, backend::down_reason::none, "");
  m1.session_opened();
  m1.counters(1).connections.store(42);
  m2.set_state(backend::server_state::down, backend::down_reason::tls_handshake,
               "certificate verify failed: \"self-signed\"\n");
  gen.frontend("kube-apiserver").worker(0).connections.store(7);
  const std::vector<metrics::vrrp_status> vrrp{{"VI_1", vrrp::state::master, 150}};
  const std::vector<anycast::vip_status> anycast{
      {"api", *ip_address::parse("192.0.2.100"), 198, true, ""},
      {"api", *ip_address::parse("2001:db8::100"), 198, false, "backend control-plane has no server up"}};

  const std::string doc = admin::status_json(
      {gen.snapshot.get(), vrrp, anycast, "/etc/cplb/test \"quoted\".yaml",
       std::chrono::system_clock::time_point(1'700'000'000s), 4242,
       std::chrono::system_clock::time_point(1'699'999'000s)});
  INFO(doc);
  CHECK(admin::test::valid_json(doc));
  CHECK(contains(doc, R"({"pid":4242,"started_at":"2023-11-14T21:56:40Z","config":{"file":"/etc/cplb/test \"quoted\".yaml","loaded_at":"2023-11-14T22:13:20Z"})"));
  CHECK(contains(doc, R"({"name":"kube-apiserver","listen":"127.0.0.1:6443","backend":"control-plane","active_connections":0,"connections_total":7,)"));
  CHECK(contains(doc, R"({"name":"m1","address":"10.0.0.11:6443","state":"up","reason":null,"reason_detail":null,"active_sessions":1,"weight":1,"connections_total":42,)"));
  CHECK(contains(doc, R"({"name":"m2","address":"10.0.0.12:6443","state":"down","reason":"tls_handshake","reason_detail":"certificate verify failed: \"self-signed\"\n",)"));
  CHECK(contains(doc, R"({"name":"m3","address":"[fd00::13]:6443","state":"unchecked","reason":"not_checked",)"));
  CHECK(contains(doc, R"("all_down":true)"));
  CHECK(contains(doc, R"("vrrp_instances":[{"name":"VI_1","state":"master","effective_priority":150}])"));
  CHECK(contains(doc, R"("anycast":[{"name":"api","vip":"192.0.2.100","table":198,"announced":true,"reason":null},)"
                      R"({"name":"api","vip":"2001:db8::100","table":198,"announced":false,)"
                      R"("reason":"backend control-plane has no server up"}])"));

  const std::string none = admin::status_json({nullptr, {}, {}, "", {}, 0, {}});
  CHECK(admin::test::valid_json(none));
  CHECK(contains(none, R"("frontends":[],"backends":[],"vrrp_instances":[],"anycast":[])"));
}
