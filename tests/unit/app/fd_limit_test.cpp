#include <catch2/catch.hpp>

#include "cplb/app/fd_limit.hpp"

using namespace cplb;

namespace {

/// One frontend, one backend of `servers` servers, `vrrp` VRRP instances.
config::config shaped(std::size_t servers, std::size_t vrrp = 0) {
  config::config cfg;
  cfg.frontends.resize(1);
  cfg.backends.resize(1);
  cfg.backends[0].servers.resize(servers);
  cfg.vrrp_instances.resize(vrrp);
  return cfg;
}

}  // namespace

TEST_CASE("fd_headroom counts what the config needs besides its sessions") {
  const auto small = app::fd_headroom(shaped(3), 2, 16);
  // stdio 3, control 6, 2 workers x (epoll + eventfd + a listener) 6, 3 probes, admin 1 + 16,
  // the placement map 1, margin 16.
  CHECK(small == 52);
  CHECK(app::fd_headroom(shaped(3), 4, 16) == small + 2 * 3);  // two more workers
  CHECK(app::fd_headroom(shaped(10), 2, 16) == small + 7);     // seven more probes
  CHECK(app::fd_headroom(shaped(3, 2), 2, 16) == small + 8);   // two VRRP instances
}

TEST_CASE("fit_connections: 256 descriptors serve at least 100 sessions of a small config") {
  const auto budget = app::fit_connections(50000, 256, app::fd_headroom(shaped(3), 2, 16), 16);
  CHECK(budget.max_connections >= 100);
  CHECK(budget.lowered);
  CHECK(budget.fd_limit == 256);
}

TEST_CASE("fit_connections keeps a cap that fits and never goes below one session") {
  CHECK(app::fit_connections(1000, 20000, 100, 0).max_connections == 1000);
  CHECK_FALSE(app::fit_connections(1000, 20000, 100, 0).lowered);
  CHECK(app::fit_connections(1000, 20000, 100, 0).fd_limit == 20000);
  CHECK(app::fit_connections(50000, 20000, 100, 0).max_connections == 9950);
  CHECK(app::fit_connections(10, 50, 100, 16).max_connections == 1);
  CHECK(app::fit_connections(10, 50, 100, 16).bulk_pipes == 0);
}

TEST_CASE("fit_connections: bulk pipes take descriptors the cap leaves over, else one session's in 64") {
  const auto roomy = app::fit_connections(1000, 20000, 100, 16);
  CHECK(roomy.max_connections == 1000);
  CHECK(roomy.bulk_pipes == 16);
  CHECK_FALSE(roomy.lowered);
  const auto bound = app::fit_connections(50000, 20000, 100, 16);
  CHECK(bound.bulk_pipes == 16);
  CHECK(bound.max_connections == 9950 - 16);
  const auto small = app::fit_connections(50000, 256, 56, 16);  // 100 fit
  CHECK(small.bulk_pipes == 1);
  CHECK(small.max_connections == 99);
  const auto tight = app::fit_connections(9945, 20000, 100, 16);  // 5 spare: 155 (one in 64)
  CHECK(tight.bulk_pipes == 16);
  CHECK(tight.max_connections == 9934);
  CHECK(tight.lowered);
}
