#include <catch2/catch.hpp>

#include "cplb/backend/server.hpp"
#include "fixtures.hpp"

using namespace cplb::backend;

TEST_CASE("a new server takes its config and carries no traffic yet") {
  const server s(test::server_cfg(7, 3), 2);
  CHECK(s.name() == "s7");
  CHECK(s.address().to_string() == "10.0.0.7:6443");
  CHECK(s.host() == "10.0.0.7");
  CHECK(s.weight() == 3);
  CHECK(s.state() == server_state::unchecked);
  CHECK_FALSE(s.up());
  CHECK(s.reason() == down_reason::not_checked);
  CHECK_FALSE(s.reachable());
  CHECK(s.active_sessions() == 0);
}

TEST_CASE("a server without a host in its config uses the address's IP") {
  auto cfg = test::server_cfg(1);
  cfg.host.clear();
  CHECK(server(cfg, 1).host() == "10.0.0.1");
}

TEST_CASE("set_state records state, reason and detail") {
  server s(test::server_cfg(0), 1);
  s.set_state(server_state::down, down_reason::http_status, "503");
  CHECK(s.state() == server_state::down);
  CHECK(s.reason() == down_reason::http_status);
  CHECK(s.reason_detail() == "503");
  CHECK_FALSE(s.up());
  s.set_state(server_state::up, down_reason::none, "");
  CHECK(s.up());
  CHECK(s.reason() == down_reason::none);
  CHECK(s.reason_detail().empty());
  s.set_reachable(true);
  CHECK(s.reachable());
  s.set_weight(9);
  CHECK(s.weight() == 9);
}

TEST_CASE("active sessions count opens minus closes") {
  server s(test::server_cfg(0), 1);
  s.session_opened();
  s.session_opened();
  s.session_closed();
  CHECK(s.active_sessions() == 1);
}

TEST_CASE("totals sum the counters of every worker") {
  server s(test::server_cfg(0), 3);
  for (unsigned w = 0; w < 3; ++w) {
    auto& c = s.counters(w);
    cplb::add_owned(c.connections, w + 1);
    cplb::add_owned(c.connect_failures, 10 * (w + 1));
    cplb::add_owned(c.bytes_sent, 100 * (w + 1));
    cplb::add_owned(c.bytes_received, 1000 * (w + 1));
  }
  cplb::add_owned(s.counters(0).connections, 4);
  const auto t = s.totals();
  CHECK(t.connections == 10);
  CHECK(t.connect_failures == 60);
  CHECK(t.bytes_sent == 600);
  CHECK(t.bytes_received == 6000);
}

TEST_CASE("states and reasons have their names") {
  CHECK(std::string(to_string(server_state::unchecked)) == "unchecked");
  CHECK(std::string(to_string(server_state::up)) == "up");
  CHECK(std::string(to_string(server_state::down)) == "down");
  struct row { down_reason reason; const char* name; };
  const row rows[] = {
      {down_reason::none, "none"},
      {down_reason::not_checked, "not_checked"},
      {down_reason::refused, "refused"},
      {down_reason::timeout, "timeout"},
      {down_reason::connect_failed, "connect_failed"},
      {down_reason::tls_handshake, "tls_handshake"},
      {down_reason::http_status, "http_status"},
      {down_reason::response_too_large, "response_too_large"},
      {down_reason::protocol_error, "protocol_error"},
  };
  for (const auto& r : rows) CHECK(std::string(to_string(r.reason)) == r.name);
}
