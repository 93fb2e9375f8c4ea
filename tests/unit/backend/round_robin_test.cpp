#include <catch2/catch.hpp>

#include "cplb/backend/picker.hpp"
#include "fixtures.hpp"

using namespace cplb::backend;
using cplb::config::balance_algorithm;

namespace {

std::vector<int> sequence(picker& p, server_mask eligible, int picks) {
  std::vector<int> out;
  for (int k = 0; k < picks; ++k) out.push_back(p.pick(eligible, 0));
  return out;
}

}  // namespace

TEST_CASE("round_robin with equal weights never picks a server twice in a row") {
  for (const std::size_t n : {2u, 3u, 5u, 64u}) {
    INFO(n << " servers");
    const auto servers = test::make_servers(n);
    auto p = make_picker(balance_algorithm::round_robin, servers, 77);
    const auto seq = sequence(*p, test::all_of(n), static_cast<int>(10 * n));
    for (std::size_t k = 1; k < seq.size(); ++k) REQUIRE(seq[k] != seq[k - 1]);
    // And each window of n picks holds every server once.
    for (std::size_t start = 0; start + n <= seq.size(); start += n) {
      std::vector<int> seen(n, 0);
      for (std::size_t k = start; k < start + n; ++k) ++seen[static_cast<std::size_t>(seq[k])];
      for (const int c : seen) REQUIRE(c == 1);
    }
  }
}

TEST_CASE("round_robin interleaves weighted servers smoothly, as nginx does") {
  struct row { std::vector<unsigned> weights; std::vector<int> want; };
  const row rows[] = {
      {{5, 1, 1}, {0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0}},
      {{1, 2}, {1, 0, 1, 1, 0, 1}},
      {{2, 2, 1}, {0, 1, 2, 0, 1, 0, 1, 2, 0, 1}},
  };
  for (const auto& r : rows) {
    const auto servers = test::make_servers(r.weights);
    auto p = make_picker(balance_algorithm::round_robin, servers, 0);
    CHECK(sequence(*p, test::all_of(r.weights.size()), static_cast<int>(r.want.size())) ==
          r.want);
  }
}

TEST_CASE("round_robin's seed chooses where the rotation starts") {
  const auto servers = test::make_servers(4);
  for (std::uint64_t seed = 0; seed < 8; ++seed) {
    auto p = make_picker(balance_algorithm::round_robin, servers, seed);
    CHECK(p->pick(test::all_of(4), 0) == static_cast<int>(seed % 4));
  }
}

TEST_CASE("round_robin rotates among the eligible servers only") {
  const auto servers = test::make_servers(4);
  auto p = make_picker(balance_algorithm::round_robin, servers, 0);
  CHECK(sequence(*p, 0b1010, 6) == std::vector<int>{1, 3, 1, 3, 1, 3});
  // When the others come back the rotation goes on over all four.
  const auto seq = sequence(*p, 0b1111, 8);
  for (std::size_t k = 1; k < seq.size(); ++k) CHECK(seq[k] != seq[k - 1]);
}

TEST_CASE("round_robin follows a weight changed by a reload") {
  const auto servers = test::make_servers({1, 1});
  auto p = make_picker(balance_algorithm::round_robin, servers, 0);
  servers[1]->set_weight(3);
  const auto counts = test::count_picks(*p, 2, 400, 0b11);
  REQUIRE(counts.size() == 2);
  CHECK(counts[0] == Approx(100).margin(1));
  CHECK(counts[1] == Approx(300).margin(1));
}
