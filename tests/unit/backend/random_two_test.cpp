#include <catch2/catch.hpp>

#include "cplb/backend/picker.hpp"
#include "fixtures.hpp"

using namespace cplb::backend;
using cplb::config::balance_algorithm;

TEST_CASE("random_two never picks the most loaded of two when it has a choice") {
  struct row { std::vector<unsigned> weights; std::vector<int> active; int never; };
  const row rows[] = {
      {{1, 1}, {10, 3}, 0},
      {{1, 1}, {0, 1}, 1},
      {{1, 1, 1}, {0, 5, 10}, 2},
      {{2, 1}, {4, 3}, 1},          // 4/2 < 3/1
      {{1, 1, 1, 1, 1}, {3, 3, 9, 3, 3}, 2},
      {{5, 1, 1}, {1, 1, 0}, 1},    // a tie between 0 and 2 is fine, 1 always loses
  };
  for (const auto& r : rows) {
    const auto servers = test::make_servers(r.weights);
    for (std::size_t i = 0; i < servers.size(); ++i)
      for (int k = 0; k < r.active[i]; ++k) servers[i]->session_opened();
    auto p = make_picker(balance_algorithm::random_two, servers, 2024);
    const auto counts = test::count_picks(*p, servers.size(), 2000, test::all_of(servers.size()));
    REQUIRE(counts.size() == servers.size());
    CHECK(counts[static_cast<std::size_t>(r.never)] == 0);
  }
}

TEST_CASE("random_two spreads equal loads over every server") {
  const auto servers = test::make_servers(4);
  for (auto& s : servers) s->session_opened();
  auto p = make_picker(balance_algorithm::random_two, servers, 1);
  const auto counts = test::count_picks(*p, 4, 4000, 0b1111);
  REQUIRE(counts.size() == 4);
  for (const int c : counts) CHECK(c == Approx(1000).margin(120));
}

TEST_CASE("random_two is deterministic for a seed") {
  const auto servers = test::make_servers({1, 2, 3, 4});
  auto a = make_picker(balance_algorithm::random_two, servers, 99);
  auto b = make_picker(balance_algorithm::random_two, servers, 99);
  auto c = make_picker(balance_algorithm::random_two, servers, 100);
  int differ = 0;
  for (int k = 0; k < 200; ++k) {
    const int pa = a->pick(0b1111, 0);
    REQUIRE(pa == b->pick(0b1111, 0));
    differ += pa != c->pick(0b1111, 0);
  }
  CHECK(differ > 50);
}
