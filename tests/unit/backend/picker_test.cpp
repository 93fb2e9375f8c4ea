#include <catch2/catch.hpp>

#include <cmath>

#include "cplb/backend/picker.hpp"
#include "fixtures.hpp"

using namespace cplb::backend;
using cplb::config::balance_algorithm;

namespace {

const balance_algorithm all_algorithms[] = {
    balance_algorithm::round_robin, balance_algorithm::least_conn,
    balance_algorithm::random_two, balance_algorithm::source_hash};

// The algorithm's name, for test messages (config's to_string lives in another library).
const char* name(balance_algorithm a) {
  switch (a) {
    case balance_algorithm::round_robin: return "round_robin";
    case balance_algorithm::least_conn: return "least_conn";
    case balance_algorithm::random_two: return "random_two";
    case balance_algorithm::source_hash: return "source_hash";
  }
  return "?";
}

// A fixed sequence of masks: splitmix64 of the step.
server_mask mask_at(std::uint64_t step) {
  std::uint64_t z = (step + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

TEST_CASE("every picker returns -1 for an empty mask") {
  const auto servers = test::make_servers(3);
  for (const auto a : all_algorithms) {
    INFO(name(a));
    auto p = make_picker(a, servers, 1);
    CHECK(p->pick(0, 42) == -1);
    // Bits past the last server are not servers.
    CHECK(p->pick(~test::all_of(3), 42) == -1);
  }
}

TEST_CASE("every picker chooses only among the eligible servers") {
  for (const std::size_t n : {1u, 2u, 7u, 64u}) {
    const auto servers = test::make_servers(n);
    for (const auto a : all_algorithms) {
      INFO(name(a) << " over " << n);
      auto p = make_picker(a, servers, 3);
      for (std::uint64_t step = 0; step < 2000; ++step) {
        const server_mask eligible = mask_at(step) & test::all_of(n);
        const int i = p->pick(eligible, step);
        if (eligible == 0) {
          REQUIRE(i == -1);
        } else {
          REQUIRE(i >= 0);
          REQUIRE(((eligible >> i) & 1) == 1);
        }
      }
    }
  }
}

TEST_CASE("every picker honours weights 1, 2, 3 over 60,000 picks") {
  const auto servers = test::make_servers({1, 2, 3});
  struct row { balance_algorithm algorithm; double tolerance; };
  const row rows[] = {
      {balance_algorithm::round_robin, 0.0},  // exactly proportional
      {balance_algorithm::least_conn, 0.0},   // no sessions opened: ties share by weight
      {balance_algorithm::random_two, 0.03},  // all active = 0
      {balance_algorithm::source_hash, 0.03}, // 60,000 distinct keys
  };
  for (const auto& r : rows) {
    INFO(name(r.algorithm));
    auto p = make_picker(r.algorithm, servers, 12345);
    const auto counts = test::count_picks(*p, 3, 60000, test::all_of(3));
    REQUIRE(counts.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      const double share = counts[i] / 60000.0;
      const double want = static_cast<double>(i + 1) / 6.0;
      INFO("server " << i << " share " << share);
      CHECK(std::abs(share - want) <= r.tolerance + 1e-9);
    }
  }
}

TEST_CASE("a lone eligible server is always chosen") {
  const auto servers = test::make_servers({1, 5, 1, 1});
  for (const auto a : all_algorithms) {
    INFO(name(a));
    auto p = make_picker(a, servers, 9);
    for (std::uint64_t k = 0; k < 100; ++k) REQUIRE(p->pick(server_mask{1} << 2, k) == 2);
  }
}

TEST_CASE("every picker copes with a backend without servers") {
  const std::vector<server_ptr> none;
  for (const auto a : all_algorithms) {
    INFO(name(a));
    CHECK(make_picker(a, none, 5)->pick(~server_mask{0}, 1) == -1);
  }
}
