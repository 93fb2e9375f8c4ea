#include <catch2/catch.hpp>

#include "cplb/backend/slow_start.hpp"
#include "fixtures.hpp"

using namespace cplb::backend;
using namespace std::chrono_literals;

TEST_CASE("slow_start_ramp grows linearly from 0 to full over the window") {
  CHECK(slow_start_ramp(0s, 10s) == 0);
  CHECK(slow_start_ramp(1s, 10s) == ramp_full / 10);
  CHECK(slow_start_ramp(5s, 10s) == ramp_full / 2);
  CHECK(slow_start_ramp(9999ms, 10s) < ramp_full);
  CHECK(slow_start_ramp(10s, 10s) == ramp_full);
  CHECK(slow_start_ramp(1h, 10s) == ramp_full);
  CHECK(slow_start_ramp(-1s, 10s) == 0);
  CHECK(slow_start_ramp(0s, 0s) == ramp_full);  // no window: no slow start
}

TEST_CASE("a server's current weight follows its ramp, never below 1") {
  auto s = test::make_servers(std::vector<unsigned>{3})[0];
  CHECK(s->current_weight() == 3 * ramp_full);
  CHECK_FALSE(s->ramping());
  s->set_ramp(0);
  CHECK(s->ramping());
  CHECK(s->current_weight() == 1);
  s->set_ramp(ramp_full / 4);
  CHECK(s->current_weight() == 3 * ramp_full / 4);
}

TEST_CASE("every picker gives a ramping server a share that follows its ramp") {
  // Three servers with sessions that stay open; s2 is at a quarter of its ramp: of 900 new
  // sessions it should take about 1/(1+1+0.25) of its fair third.
  for (const auto algorithm : {cplb::config::balance_algorithm::least_conn,
                               cplb::config::balance_algorithm::round_robin,
                               cplb::config::balance_algorithm::random_two,
                               cplb::config::balance_algorithm::source_hash}) {
    INFO(cplb::config::to_string(algorithm));
    auto servers = test::make_servers(3);
    servers[2]->set_ramp(ramp_full / 4);
    auto picker = make_picker(algorithm, servers, 7);
    std::vector<int> counts(3, 0);
    for (int k = 0; k < 900; ++k) {
      const int i = picker->pick(test::all_of(3), static_cast<std::uint64_t>(k));
      REQUIRE(i >= 0);
      servers[static_cast<std::size_t>(i)]->session_opened();
      ++counts[static_cast<std::size_t>(i)];
    }
    const double share = counts[2] / 900.0;
    CHECK(share == Approx(0.25 / 2.25).margin(0.04));
  }
}
