#include <catch2/catch.hpp>

#include "cplb/backend/picker.hpp"
#include "fixtures.hpp"

using namespace cplb::backend;
using cplb::config::balance_algorithm;

namespace {

void open_sessions(server& s, int count) {
  for (int k = 0; k < count; ++k) s.session_opened();
}

}  // namespace

TEST_CASE("least_conn picks the server with the fewest sessions per weight") {
  struct row {
    const char* what;
    std::vector<unsigned> weights;
    std::vector<int> active;
    server_mask eligible;
    int want;
  };
  const row rows[] = {
      {"fewest sessions", {1, 1, 1}, {5, 2, 7}, 0b111, 1},
      {"first of three", {1, 1, 1}, {0, 2, 7}, 0b111, 0},
      {"the least loaded is not eligible", {1, 1, 1}, {5, 2, 7}, 0b101, 0},
      {"weight 2 halves the load", {2, 1}, {4, 3}, 0b11, 0},
      {"weight 2 is not enough", {2, 1}, {8, 3}, 0b11, 1},
      {"weights 3:1 by cross-multiplication", {3, 1, 2}, {10, 4, 7}, 0b111, 0},
      {"heavy weight, many sessions", {256, 1}, {500, 2}, 0b11, 0},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    const auto servers = test::make_servers(r.weights);
    for (std::size_t i = 0; i < servers.size(); ++i) open_sessions(*servers[i], r.active[i]);
    auto p = make_picker(balance_algorithm::least_conn, servers, 0);
    for (int k = 0; k < 10; ++k) CHECK(p->pick(r.eligible, 0) == r.want);
  }
}

TEST_CASE("least_conn spreads long sessions by weight") {
  const auto servers = test::make_servers({1, 2, 3});
  auto p = make_picker(balance_algorithm::least_conn, servers, 5);
  for (int k = 0; k < 6000; ++k) {
    const int i = p->pick(0b111, 0);
    REQUIRE(i >= 0);
    servers[static_cast<std::size_t>(i)]->session_opened();
    // At every step each server was the least loaded before its last session:
    // (active_a - 1) / weight_a <= active_b / weight_b.
    for (std::size_t a = 0; a < 3; ++a)
      for (std::size_t b = 0; b < 3; ++b)
        REQUIRE((servers[a]->active_sessions() - 1) * static_cast<std::int64_t>(b + 1) <=
                servers[b]->active_sessions() * static_cast<std::int64_t>(a + 1));
  }
  CHECK(servers[0]->active_sessions() == 1000);
  CHECK(servers[1]->active_sessions() == 2000);
  CHECK(servers[2]->active_sessions() == 3000);
}

TEST_CASE("least_conn rotates among equally loaded servers") {
  const auto servers = test::make_servers(3);
  auto p = make_picker(balance_algorithm::least_conn, servers, 0);
  // Short sessions: every pick sees the same (zero) load, yet each server gets its turn.
  for (int round = 0; round < 10; ++round) {
    std::vector<int> seen(3, 0);
    for (int k = 0; k < 3; ++k) ++seen[static_cast<std::size_t>(p->pick(0b111, 0))];
    CHECK(seen == std::vector<int>{1, 1, 1});
  }
  // Equal but non-zero loads rotate the same way, skipping the busier server.
  open_sessions(*servers[0], 2);
  open_sessions(*servers[1], 2);
  open_sessions(*servers[2], 3);
  int previous = -1;
  for (int k = 0; k < 10; ++k) {
    const int i = p->pick(0b111, 0);
    CHECK(i != 2);
    CHECK(i != previous);
    previous = i;
  }
}
