#include <catch2/catch.hpp>

#include <string>

#include "cplb/backend/picker.hpp"
#include "fixtures.hpp"

using namespace cplb::backend;
using cplb::config::balance_algorithm;

namespace {

constexpr int key_count = 10000;

// The client key of client `k`: the hash of an IPv4 address, as the proxy computes it.
std::uint64_t client_key(int k) {
  const std::string ip = "192.168." + std::to_string(k / 250) + "." + std::to_string(k % 250 + 1);
  return cplb::socket_address::from_ip(ip, 40000)->ip_hash();
}

// The name of the server each client goes to, over `servers` with `eligible`.
std::vector<std::string> assign(const std::vector<server_ptr>& servers, server_mask eligible) {
  auto p = make_picker(balance_algorithm::source_hash, servers, 0);
  std::vector<std::string> names;
  for (int k = 0; k < key_count; ++k) {
    const int i = p->pick(eligible, client_key(k));
    names.push_back(i < 0 ? "" : servers[static_cast<std::size_t>(i)]->name());
  }
  return names;
}

}  // namespace

TEST_CASE("source_hash sends a client to the same server every time, from every picker") {
  const auto servers = test::make_servers({1, 2, 1, 3, 1});
  const auto first = assign(servers, 0b11111);
  // Another worker's picker, with another seed, over other server objects of the same names.
  const auto twins = test::make_servers({1, 2, 1, 3, 1});
  auto p = make_picker(balance_algorithm::source_hash, twins, 777);
  for (int round = 0; round < 2; ++round)
    for (int k = 0; k < key_count; ++k)
      REQUIRE(twins[static_cast<std::size_t>(p->pick(0b11111, client_key(k)))]->name() ==
              first[static_cast<std::size_t>(k)]);
}

TEST_CASE("source_hash: removing one of N servers moves only that server's clients") {
  for (const std::size_t n : {3u, 5u, 10u}) {
    for (std::size_t removed = 0; removed < n; removed += n / 2) {
      INFO(n << " servers, removing s" << removed);
      const auto servers = test::make_servers(n);
      const auto before = assign(servers, test::all_of(n));
      // Removed by a reload (a picker over the others) or down (not eligible): same result.
      std::vector<server_ptr> rest = servers;
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(removed));
      const auto after_reload = assign(rest, test::all_of(n - 1));
      const auto after_down = assign(servers, test::all_of(n) & ~(server_mask{1} << removed));
      CHECK(after_reload == after_down);
      const std::string gone = servers[removed]->name();
      int moved = 0;
      for (int k = 0; k < key_count; ++k) {
        const auto ku = static_cast<std::size_t>(k);
        if (after_reload[ku] == before[ku]) continue;
        REQUIRE(before[ku] == gone);
        ++moved;
      }
      CHECK(moved > 0);
      CHECK(moved <= key_count * (1.0 / static_cast<double>(n) + 0.05));
    }
  }
}

TEST_CASE("source_hash: adding a server moves about 1/(N+1) of the clients, all to it") {
  for (const std::size_t n : {3u, 5u, 10u}) {
    INFO(n << " servers plus one");
    const auto servers = test::make_servers(n + 1);
    const std::vector<server_ptr> old(servers.begin(), servers.end() - 1);
    const auto before = assign(old, test::all_of(n));
    const auto after = assign(servers, test::all_of(n + 1));
    int moved = 0;
    for (int k = 0; k < key_count; ++k) {
      const auto ku = static_cast<std::size_t>(k);
      if (after[ku] == before[ku]) continue;
      REQUIRE(after[ku] == servers[n]->name());
      ++moved;
    }
    CHECK(moved / static_cast<double>(key_count) ==
          Approx(1.0 / static_cast<double>(n + 1)).margin(0.05));
  }
}

TEST_CASE("source_hash spreads the clients of a down server over all the others") {
  const std::size_t n = 5;
  const auto servers = test::make_servers(n);
  const auto before = assign(servers, 0b11111);
  const auto after = assign(servers, 0b11110);
  std::vector<int> received(n, 0);
  int moved = 0;
  for (int k = 0; k < key_count; ++k) {
    const auto ku = static_cast<std::size_t>(k);
    if (before[ku] != "s0") continue;
    ++moved;
    ++received[static_cast<std::size_t>(std::stoi(after[ku].substr(1)))];
  }
  REQUIRE(moved > 1000);
  CHECK(received[0] == 0);
  for (std::size_t i = 1; i < n; ++i) {
    INFO("s" << i << " got " << received[i] << " of " << moved);
    CHECK(received[i] / static_cast<double>(moved) == Approx(0.25).margin(0.05));
  }
}

TEST_CASE("source_hash weighs the share of clients") {
  const auto servers = test::make_servers({1, 3});
  const auto names = assign(servers, 0b11);
  const auto on_heavy = std::count(names.begin(), names.end(), "s1");
  CHECK(on_heavy / static_cast<double>(key_count) == Approx(0.75).margin(0.03));
}
