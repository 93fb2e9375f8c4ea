#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "cplb/backend/backend.hpp"
#include "fixtures.hpp"

using namespace cplb::backend;
using cplb::config::all_down_policy;

namespace {

// A backend of servers in the given states: 'u' up, 'r' down but reachable, 'd' down.
backend make_backend(const std::string& states, all_down_policy policy) {
  cplb::config::backend_config cfg;
  cfg.name = "control-plane";
  cfg.all_down = policy;
  std::vector<server_ptr> servers;
  for (std::size_t i = 0; i < states.size(); ++i) {
    cfg.servers.push_back(test::server_cfg(static_cast<unsigned>(i)));
    auto s = std::make_shared<server>(cfg.servers.back(), 1);
    if (states[i] == 'u') s->set_state(server_state::up, down_reason::none, "");
    if (states[i] == 'd') s->set_state(server_state::down, down_reason::refused, "");
    if (states[i] == 'r') s->set_state(server_state::down, down_reason::http_status, "500");
    s->set_reachable(states[i] != 'd');
    servers.push_back(std::move(s));
  }
  return backend(cfg, std::move(servers));
}

}  // namespace

TEST_CASE("eligible: the up servers not tried, else the reachable ones if the policy says so") {
  struct row {
    const char* states;
    all_down_policy policy;
    server_mask tried;
    server_mask want;
    bool all_down;
  };
  const auto any = all_down_policy::any_reachable;
  const auto reject = all_down_policy::reject;
  const row rows[] = {
      {"uuu", any, 0, 0b111, false},
      {"udu", any, 0, 0b101, false},
      {"udu", any, 0b001, 0b100, false},
      {"urr", any, 0, 0b001, false},       // one up: the reachable ones do not count
      {"urr", any, 0b001, 0, false},       // the up one was tried: nothing, no fallback
      {"rdr", any, 0, 0b101, true},        // none up: the reachable ones
      {"rdr", any, 0b100, 0b001, true},
      {"rdr", reject, 0, 0, true},
      {"ddd", any, 0, 0, true},
      {"uuu", reject, 0b111, 0, false},
      {"", any, 0, 0, true},
  };
  for (const auto& r : rows) {
    INFO(r.states << (r.policy == any ? " any_reachable" : " reject") << " tried " << r.tried);
    const auto b = make_backend(r.states, r.policy);
    CHECK(b.eligible(r.tried) == r.want);
    CHECK(b.all_down() == r.all_down);
  }
}

TEST_CASE("a server that is unchecked is neither up nor eligible") {
  cplb::config::backend_config cfg;
  cfg.servers = {test::server_cfg(0)};
  const backend b(cfg, {std::make_shared<server>(cfg.servers[0], 1)});
  CHECK(b.all_down());
  CHECK(b.eligible(0) == 0);
  CHECK(b.name().empty());
  CHECK(b.servers().size() == 1);
}

TEST_CASE("backend pick counts the session on the chosen server at once") {
  auto b = make_backend("uuu", all_down_policy::reject);
  for (int k = 0; k < 30; ++k) REQUIRE(b.pick(b.eligible(0), 0) >= 0);
  for (const auto& s : b.servers()) CHECK(s->active_sessions() == 10);  // least_conn: even
  CHECK(b.pick(0, 0) == -1);
}

TEST_CASE("backend pick spreads a burst from many threads evenly, and round_robin rotates per backend") {
  for (const auto balance : {cplb::config::balance_algorithm::least_conn,
                             cplb::config::balance_algorithm::round_robin}) {
    INFO(cplb::config::to_string(balance));
    cplb::config::backend_config cfg;
    cfg.name = "cp";
    cfg.balance = balance;
    std::vector<server_ptr> servers;
    for (unsigned i = 0; i < 3; ++i) {
      cfg.servers.push_back(test::server_cfg(i));
      servers.push_back(std::make_shared<server>(cfg.servers.back(), 1));
      servers.back()->set_state(server_state::up, down_reason::none, "");
    }
    const backend b(cfg, servers);
    std::vector<std::thread> workers;
    for (int t = 0; t < 3; ++t)
      workers.emplace_back([&b] {
        for (int k = 0; k < 100; ++k) b.pick(b.eligible(0), 0);
      });
    for (auto& w : workers) w.join();
    for (const auto& s : servers) CHECK(s->active_sessions() == 100);
  }
}
