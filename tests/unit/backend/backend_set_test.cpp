#include <catch2/catch.hpp>

#include "cplb/backend/backend.hpp"
#include "fixtures.hpp"

using namespace cplb::backend;

namespace {

cplb::config::backend_config backend_cfg(const std::string& name,
                                         std::vector<cplb::config::server_config> servers) {
  cplb::config::backend_config b;
  b.name = name;
  b.servers = std::move(servers);
  return b;
}

cplb::config::config two_backends() {
  cplb::config::config c;
  c.backends.push_back(backend_cfg("control-plane", {test::server_cfg(1), test::server_cfg(2),
                                                     test::server_cfg(3)}));
  c.backends.push_back(backend_cfg("etcd", {test::server_cfg(1), test::server_cfg(9)}));
  c.backends[1].balance = cplb::config::balance_algorithm::source_hash;
  return c;
}

}  // namespace

TEST_CASE("backend_set::build makes the backends of a config, in order") {
  const auto set = backend_set::build(two_backends(), nullptr, 4);
  REQUIRE(set->all().size() == 2);
  CHECK(set->all()[0]->name() == "control-plane");
  CHECK(set->all()[1]->name() == "etcd");
  CHECK(set->all()[1]->config().balance == cplb::config::balance_algorithm::source_hash);
  REQUIRE(set->find("etcd") == set->all()[1]);
  CHECK(set->find("missing") == nullptr);
  const auto servers = set->find("control-plane")->servers();
  REQUIRE(servers.size() == 3);
  CHECK(servers[0]->name() == "s1");
  CHECK(servers[2]->name() == "s3");
  CHECK(servers[0]->state() == server_state::unchecked);
  // The same server in two backends is two servers.
  CHECK(servers[0] != set->find("etcd")->servers()[0]);
  // Each server has a counter slot per worker.
  cplb::add_owned(servers[0]->counters(3).connections, 1);
  CHECK(servers[0]->totals().connections == 1);
}

TEST_CASE("backend_set::build keeps unchanged servers across a reload") {
  const auto old_cfg = two_backends();
  const auto old = backend_set::build(old_cfg, nullptr, 1);
  const auto old_cp = old->find("control-plane")->servers();
  for (const auto& s : old_cp) {
    s->set_state(server_state::up, down_reason::none, "");
    s->session_opened();
  }

  auto cfg = old_cfg;
  auto& cp = cfg.backends[0].servers;
  cp[0].weight = 7;                                              // s1: same, new weight
  cp[1].address = *cplb::socket_address::parse("10.0.0.2:6444");  // s2: new address
  cp[2].name = "s3-renamed";                                     // s3: new name
  cp.push_back(test::server_cfg(4));                              // s4: new
  std::swap(cfg.backends[0], cfg.backends[1]);                   // order changes too

  const auto next = backend_set::build(cfg, old.get(), 1);
  const auto now = next->find("control-plane")->servers();
  REQUIRE(now.size() == 4);

  CHECK(now[0] == old_cp[0]);
  CHECK(now[0]->weight() == 1);  // build touches nothing live: the weight changes on commit
  next->commit();
  CHECK(now[0]->weight() == 7);
  CHECK(now[0]->up());
  CHECK(now[0]->active_sessions() == 1);

  for (std::size_t i = 1; i < 4; ++i) {
    INFO(now[i]->name());
    for (const auto& o : old_cp) CHECK(now[i] != o);
    CHECK(now[i]->state() == server_state::unchecked);
    CHECK(now[i]->active_sessions() == 0);
  }
  CHECK(now[1]->address().to_string() == "10.0.0.2:6444");

  // The other backend's servers carry over, by backend name.
  CHECK(next->find("etcd")->servers()[0] == old->find("etcd")->servers()[0]);
  CHECK(next->all()[0]->name() == "etcd");
}

TEST_CASE("backend_set::build does not move a server between backends") {
  const auto old = backend_set::build(two_backends(), nullptr, 1);
  auto cfg = two_backends();
  cfg.backends[1].name = "etcd-2";
  const auto next = backend_set::build(cfg, old.get(), 1);
  CHECK(next->find("etcd-2")->servers()[0] != old->find("etcd")->servers()[0]);
  CHECK(next->find("etcd-2")->servers()[0] != old->find("control-plane")->servers()[0]);
}
