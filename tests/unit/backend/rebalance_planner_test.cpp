#include <catch2/catch.hpp>

#include <vector>

#include "cplb/backend/rebalance_planner.hpp"

using namespace cplb::backend;
using namespace std::chrono_literals;

namespace {

/// An up server out of slow start, of weight `w`, holding `sessions`.
rebalance_server settled(std::int64_t sessions, std::int64_t w = 1024) { return {sessions, w, true, true}; }

std::vector<std::int64_t> surplus(std::vector<rebalance_server> servers, double threshold = 1.25) {
  return rebalance_surplus(servers, threshold);
}

}  // namespace

TEST_CASE("rebalance_surplus: what an over-full server holds beyond its fair share") {
  // The rolling restart's end state: 30/30/0 of 60; the fair share is 20.
  CHECK(surplus({settled(30), settled(30), settled(0)}) == std::vector<std::int64_t>{10, 10, 0});
  // 24 is 1.2 x 20: under the threshold, left alone.
  CHECK(surplus({settled(24), settled(18), settled(18)}) == std::vector<std::int64_t>{0, 0, 0});
  // 26 is 1.3 x 20: over it, and the surplus is counted down to the share.
  CHECK(surplus({settled(26), settled(17), settled(17)}) == std::vector<std::int64_t>{6, 0, 0});
  // Weights: 2:1:1 of 40 is 20/10/10.
  CHECK(surplus({settled(20, 2048), settled(20), settled(0)}) == std::vector<std::int64_t>{0, 10, 0});
}

TEST_CASE("rebalance_surplus closes nothing unless two servers are up, and never from an unsettled one") {
  CHECK(surplus({settled(60), {0, 1024, false, false}, {0, 1024, false, false}}) ==
        std::vector<std::int64_t>{0, 0, 0});
  // The other up server is in slow start at a quarter: the share counts it by its current
  // weight (60 x 1/1.25 = 48 for the settled one), and its own sessions are never closed.
  CHECK(surplus({settled(60), {0, 256, true, false}}) == std::vector<std::int64_t>{0, 0});
  CHECK(surplus({settled(40), {40, 256, true, false}}, 1.25) == std::vector<std::int64_t>{0, 0});
  // A down server's sessions are drained, not rebalanced, and it has no share.
  CHECK(surplus({settled(30), settled(10), {20, 1024, false, false}}) == std::vector<std::int64_t>{10, 0, 0});
  // threshold 0 is off.
  CHECK(surplus({settled(60), settled(0)}, 0) == std::vector<std::int64_t>{0, 0});
}

TEST_CASE("rebalance_episode paces its closes evenly over the spread") {
  const auto start = std::chrono::steady_clock::time_point(1000s);
  rebalance_episode e(start, 10, 10s);
  CHECK(e.take_due(start) == 0);
  CHECK(e.take_due(start + 1s) == 1);
  CHECK(e.take_due(start + 1s) == 0);  // taken once
  CHECK(e.take_due(start + 5500ms) == 5);
  CHECK_FALSE(e.done());
  CHECK(e.take_due(start + 10s) == 4);
  CHECK(e.done());
  CHECK(e.take_due(start + 20s) == 0);
  CHECK(e.total() == 10);
}
