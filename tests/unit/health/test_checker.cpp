#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cplb/backend/backend.hpp"
#include "cplb/health/checker.hpp"
#include "test_server.hpp"

// The checker over real peers on 127.0.0.1 (plain HTTP: TLS is covered by the probe tests).

using namespace std::chrono_literals;
using cplb::backend::down_reason;
using cplb::backend::server_state;
using namespace cplb::health;
using namespace cplb::health::testing;

namespace {

using clock_type = std::chrono::steady_clock;

/// A config with one backend `cp` over `servers` (name -> address), probed over HTTP.
cplb::config::config one_backend(const std::map<std::string, cplb::socket_address>& servers,
                                 cplb::duration interval, cplb::duration timeout = 500ms,
                                 unsigned rise = 2, unsigned fall = 2) {
  cplb::config::backend_config b;
  b.name = "cp";
  for (const auto& [name, address] : servers)
    b.servers.push_back({name, address, address.ip_string(), 1});
  b.health_check.protocol = cplb::config::check_protocol::http;
  b.health_check.interval = interval;
  b.health_check.timeout = timeout;
  b.health_check.rise = rise;
  b.health_check.fall = fall;
  cplb::config::config c;
  c.backends.push_back(b);
  return c;
}

/// A plain HTTP server answering 200.
server_options plain_http() {
  server_options o;
  o.tls = false;
  return o;
}

/// Prepares and commits `set`, as a reload does.
void apply(checker& c, std::shared_ptr<const cplb::backend::backend_set> set) {
  check_plan plan;
  std::vector<std::string> problems;
  REQUIRE(checker::prepare(std::move(set), plan, problems));
  c.commit(std::move(plan));
}

/// What the observer saw.
struct recorder {
  std::vector<std::string> transitions;  ///< `server:from->to`
  std::map<std::string, int> probes;     ///< per server

  checker_observer observer() {
    return {[this](const cplb::backend::backend&, const cplb::backend::server_ptr& s, server_state from,
                   server_state to) {
              transitions.push_back(s->name() + ":" + to_string(from) + "->" + to_string(to));
            },
            [this](const cplb::backend::backend&, cplb::backend::server& s, const probe_result&) {
              ++probes[s.name()];
            }};
  }
};

}  // namespace

TEST_CASE("checker probes new servers at once and writes their state") {
  boost::asio::io_context io;
  test_server ok(io, plain_http());
  closed_port closed(io);
  recorder seen;
  checker c(io, seen.observer());
  const auto set = cplb::backend::backend_set::build(
      one_backend({{"a", ok.address()}, {"b", closed.address()}}, 10s), nullptr, 1);
  const auto a = set->all()[0]->servers()[0];
  const auto b = set->all()[0]->servers()[1];
  CHECK(a->state() == server_state::unchecked);

  const auto start = clock_type::now();
  apply(c, set);
  run_until(io, [&] { return seen.transitions.size() == 2; });
  CHECK(clock_type::now() - start < 2s);  // not after the 10 s interval

  CHECK(a->state() == server_state::up);
  CHECK(a->reason() == down_reason::none);
  CHECK(a->reachable());
  CHECK(b->state() == server_state::down);
  CHECK(b->reason() == down_reason::refused);
  CHECK_FALSE(b->reason_detail().empty());
  CHECK_FALSE(b->reachable());
  CHECK_THAT(seen.transitions, Catch::UnorderedEquals(std::vector<std::string>{
                                   "a:unchecked->up", "b:unchecked->down"}));
  CHECK(seen.probes["a"] == 1);
  CHECK(seen.probes["b"] == 1);
}

TEST_CASE("checker probes again a jittered interval after each probe, one at a time") {
  boost::asio::io_context io;
  test_server ok(io, plain_http());
  recorder seen;
  checker c(io, seen.observer());
  apply(c, cplb::backend::backend_set::build(one_backend({{"a", ok.address()}}, 50ms), nullptr, 1));
  const auto start = clock_type::now();
  run_until(io, [&] { return seen.probes["a"] == 5; });
  CHECK(clock_type::now() - start >= 4 * 45ms);  // four intervals of at least 90% of 50 ms
  CHECK(ok.log().requests.size() == 5);
  CHECK(seen.transitions == std::vector<std::string>{"a:unchecked->up"});
}

TEST_CASE("checker counts data-path connect failures toward fall") {
  boost::asio::io_context io;
  test_server ok(io, plain_http());
  recorder seen;
  checker c(io, seen.observer());
  const auto set =
      cplb::backend::backend_set::build(one_backend({{"a", ok.address()}}, 10s), nullptr, 1);
  const auto a = set->all()[0]->servers()[0];
  apply(c, set);
  run_until(io, [&] { return a->up(); });

  c.report_connect_failure(a, down_reason::timeout, "timeout");
  CHECK(a->up());  // one failure of fall 2
  CHECK_FALSE(a->reachable());
  c.report_connect_failure(a, down_reason::timeout, "timeout");
  CHECK(a->state() == server_state::down);
  CHECK(a->reason() == down_reason::timeout);
  CHECK(a->reason_detail() == "data path: timeout");
  CHECK(seen.transitions == std::vector<std::string>{"a:unchecked->up", "a:up->down"});

  // A server the checker does not know is ignored.
  cplb::config::server_config other{"x", ok.address(), "127.0.0.1", 1};
  c.report_connect_failure(std::make_shared<cplb::backend::server>(other, 1));
}

TEST_CASE("checker takes a server down at the first data-path refusal") {
  boost::asio::io_context io;
  test_server ok(io, plain_http());
  recorder seen;
  checker c(io, seen.observer());
  const auto set =
      cplb::backend::backend_set::build(one_backend({{"a", ok.address()}}, 10s), nullptr, 1);
  const auto a = set->all()[0]->servers()[0];
  apply(c, set);
  run_until(io, [&] { return a->up(); });

  c.report_connect_failure(a, down_reason::refused, "connection refused");
  CHECK(a->state() == server_state::down);
  CHECK(a->reason() == down_reason::refused);
  CHECK(seen.transitions == std::vector<std::string>{"a:unchecked->up", "a:up->down"});
}

TEST_CASE("checker commit keeps carried-over servers and stops removed ones") {
  boost::asio::io_context io;
  test_server ok(io, plain_http());
  silent_listener silent(io);
  recorder seen;
  checker c(io, seen.observer());

  const auto first =
      cplb::backend::backend_set::build(one_backend({{"a", ok.address()}}, 50ms), nullptr, 1);
  const auto a = first->all()[0]->servers()[0];
  apply(c, first);
  run_until(io, [&] { return a->up(); });

  // Carried over (same name and address) with new settings; a new server joins and is probed at
  // once.
  const auto second = cplb::backend::backend_set::build(
      one_backend({{"a", ok.address()}, {"h", silent.address()}}, 50ms, 200ms, 1, 1), first.get(),
      1);
  REQUIRE(second->all()[0]->servers()[0] == a);
  const auto h = second->all()[0]->servers()[1];
  apply(c, second);
  run_until(io, [&] { return h->state() == server_state::down; });
  CHECK(h->reason() == down_reason::timeout);
  CHECK(h->reachable());  // the connect succeeded
  CHECK(a->up());
  CHECK(std::count(seen.transitions.begin(), seen.transitions.end(), "a:unchecked->up") == 1);

  // `a` removed: no more probes of it.
  apply(c, cplb::backend::backend_set::build(one_backend({{"h", silent.address()}}, 50ms),
                                            second.get(), 1));
  const auto probes_of_a = seen.probes["a"];
  const auto requests = ok.log().requests.size();
  io.restart();
  io.run_for(200ms);  // four intervals of `a`, had it stayed
  CHECK(seen.probes["a"] == probes_of_a);
  CHECK(ok.log().requests.size() == requests);
}

TEST_CASE("checker cancels a probe in flight when its server is removed, and on stop") {
  for (const bool by_stop : {false, true}) {
    boost::asio::io_context io;
    silent_listener silent(io);  // no pending operations: the checker's are the only work
    recorder seen;
    checker c(io, seen.observer());
    const auto set = cplb::backend::backend_set::build(
        one_backend({{"h", silent.address()}}, 10s, 3s), nullptr, 1);
    apply(c, set);
    io.run_for(50ms);  // connected; the request waits for an answer
    if (by_stop) {
      c.stop();
    } else {
      apply(c, cplb::backend::backend_set::build(cplb::config::config{}, set.get(), 1));
    }
    const auto start = clock_type::now();
    io.restart();
    io.run_for(5s);  // returns as soon as no work is left
    CHECK(io.stopped());
    CHECK(clock_type::now() - start < 1s);
    CHECK(seen.probes.empty());
    CHECK(set->all()[0]->servers()[0]->state() == server_state::unchecked);
  }
}

TEST_CASE("checker prepare names every backend whose files cannot be loaded") {
  auto cfg = one_backend({{"a", *cplb::socket_address::parse("127.0.0.1:1")}}, 10s);
  cfg.backends[0].health_check.bearer_token_file = "/nonexistent/token";
  cfg.backends.push_back(cfg.backends[0]);
  cfg.backends[1].name = "etcd";
  cfg.backends[1].health_check.bearer_token_file.clear();
  cfg.backends[1].health_check.tls.ca_file = "/nonexistent/ca.crt";
  cfg.backends[1].health_check.protocol = cplb::config::check_protocol::https;
  check_plan plan;
  std::vector<std::string> problems;
  CHECK_FALSE(checker::prepare(cplb::backend::backend_set::build(cfg, nullptr, 1), plan, problems));
  REQUIRE(problems.size() == 2);
  CHECK_THAT(problems[0], Catch::Contains("backend cp: health_check: bearer_token_file"));
  CHECK_THAT(problems[1], Catch::Contains("backend etcd: health_check: tls.ca_file"));
}

TEST_CASE("checker confirms a result that disagrees with the state after fast_interval") {
  boost::asio::io_context io;
  auto ok = std::make_unique<test_server>(io, plain_http());
  std::vector<std::pair<bool, clock_type::time_point>> results;  // passed, when
  checker c(io, checker_observer{{}, [&](const cplb::backend::backend&, cplb::backend::server&,
                                         const probe_result& r) {
                                   results.emplace_back(r.passed, clock_type::now());
                                 }});
  auto cfg = one_backend({{"a", ok->address()}}, 1s, 500ms, 1, 3);
  cfg.backends[0].health_check.fast_interval = 50ms;
  const auto set = cplb::backend::backend_set::build(cfg, nullptr, 1);
  const auto a = set->all()[0]->servers()[0];
  apply(c, set);
  run_until(io, [&] { return a->up(); });
  ok.reset();  // the port now refuses: every probe fails
  run_until(io, [&] { return a->state() == server_state::down; });
  // The first failure came after a whole interval; the two that confirmed it, fast_interval
  // apart (not 1 s): fall 3 took one interval and two short pauses.
  REQUIRE(results.size() >= 4);
  const auto n = results.size();
  CHECK_FALSE(results[n - 3].first);
  CHECK(results[n - 1].second - results[n - 3].second < 500ms);
  CHECK(results[n - 3].second - results[n - 4].second > 800ms);
}
