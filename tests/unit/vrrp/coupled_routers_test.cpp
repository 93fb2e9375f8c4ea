#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "cplb/vrrp/coupled_routers.hpp"
#include "machine_util.hpp"

// A dual-stack instance: router 0 is IPv4 (192.0.2.5), router 1 IPv6 (fe80::5); priority 100, 1 s.
namespace cplb::vrrp {
namespace {

using namespace test;

settings v6_defaults() {
  settings s = defaults();
  s.primary_ip = ip6("fe80::5");
  s.virtual_ips = {ip6("2001:db8::100")};
  return s;
}

events::advert_received heard6(const char* sender, std::uint8_t prio) {
  return {advert{3, 51, prio, 100_cs, {ip6("2001:db8::100")}, ip6(sender)}};
}

/// `0:backup->master master_down_timer: ...` for each step.
std::vector<std::string> describe_all(const std::vector<coupled_routers::router_step>& steps) {
  std::vector<std::string> out;
  for (const auto& [router, s] : steps) out.push_back(std::to_string(router) + ":" + describe(s));
  return out;
}

const std::string become_master = "send_advert(priority=100) add_vips send_garp";

TEST_CASE("dual-stack: both routers become master together", "[vrrp][coupled]") {
  coupled_routers routers({defaults(), v6_defaults()});
  fake_clock clock;
  CHECK(describe_all(routers.handle(std::nullopt, events::start{}, clock.now())) ==
        std::vector<std::string>{"0:init->backup startup", "1:init->backup startup"});
  CHECK(routers.next_deadline() == clock.now() + 3'609'375us);
  clock.advance(3'609'375us);
  // The first to time out takes the other along; the other's own timer is then no longer due.
  CHECK(describe_all(routers.expire(clock.now())) ==
        std::vector<std::string>{"0:backup->master master_down_timer: " + become_master,
                                 "1:backup->master sibling: " + become_master});
  CHECK(routers.current() == state::master);
  CHECK(routers.router(1).current() == state::master);
  CHECK(routers.next_deadline() == clock.now() + 1s);
}

TEST_CASE("dual-stack: a better master in one family moves both to backup", "[vrrp][coupled]") {
  coupled_routers routers({defaults(), v6_defaults()});
  fake_clock clock;
  routers.handle(std::nullopt, events::start{}, clock.now());
  clock.advance(3'609'375us);
  routers.expire(clock.now());
  clock.advance(100ms);
  CHECK(describe_all(routers.handle(1, heard6("fe80::9", 150), clock.now())) ==
        std::vector<std::string>{
            "1:master->backup higher_priority_advert: send_advert(priority=100) remove_vips",
            "0:master->backup sibling: send_advert(priority=100) remove_vips"});
  CHECK_FALSE(routers.holds_vips());
  // The IPv4 router follows the IPv6 master it has not heard yet: its peer's router of that family
  // is master too (coupled there as well), and its adverts restart the IPv4 master-down timer.
  CHECK(routers.router(0).current() == state::backup);
}

TEST_CASE("dual-stack: a split brain in one family reasserts in that family only", "[vrrp][coupled]") {
  coupled_routers routers({defaults(), v6_defaults()});
  fake_clock clock;
  routers.handle(std::nullopt, events::start{}, clock.now());
  clock.advance(3'609'375us);
  routers.expire(clock.now());
  clock.advance(100ms);
  CHECK(describe_all(routers.handle(0, heard(peer_low, 50), clock.now())) ==
        std::vector<std::string>{"0:master split_brain: send_advert(priority=100) send_garp"});
  CHECK(routers.router(1).current() == state::master);
}

TEST_CASE("dual-stack: interface, priority and shutdown reach both; fault is not coupled", "[vrrp][coupled]") {
  coupled_routers routers({defaults(), v6_defaults()});
  fake_clock clock;
  routers.handle(std::nullopt, events::start{}, clock.now());
  clock.advance(3'609'375us);
  routers.expire(clock.now());
  CHECK(describe_all(routers.handle(std::nullopt, events::priority_changed{40}, clock.now())) ==
        std::vector<std::string>{"0:master priority_change: send_advert(priority=40)",
                                 "1:master priority_change: send_advert(priority=40)"});
  CHECK(describe_all(routers.handle(std::nullopt, events::interface_changed{false}, clock.now())) ==
        std::vector<std::string>{"0:master->fault interface_down: remove_vips",
                                 "1:master->fault interface_down: remove_vips"});
  CHECK(describe_all(routers.handle(std::nullopt, events::interface_changed{true}, clock.now())) ==
        std::vector<std::string>{"0:fault->backup interface_up", "1:fault->backup interface_up"});
  CHECK(describe_all(routers.handle(std::nullopt, events::shutdown{}, clock.now())) ==
        std::vector<std::string>{"0:backup->init shutdown", "1:backup->init shutdown"});
}

TEST_CASE("dual-stack: a backup that hears no master waits while the other family hears one",
          "[vrrp][coupled]") {
  coupled_routers routers({defaults(), v6_defaults()});
  fake_clock clock;
  routers.handle(std::nullopt, events::start{}, clock.now());
  // Only the IPv4 master's adverts arrive (the peer's IPv6 ones are lost on the way).
  for (int second = 1; second <= 10; ++second) {
    clock.advance(1s);
    CHECK(describe_all(routers.handle(0, heard(peer_high, 150), clock.now())) ==
          std::vector<std::string>{"0:backup master_advert"});
    // The IPv6 timer runs out (first at 3609375us, then every master-down interval): it waits.
    for (auto d = routers.next_deadline(); d && *d <= clock.now(); d = routers.next_deadline())
      CHECK(describe_all(routers.expire(clock.now())) == std::vector<std::string>{"1:backup held_by_sibling"});
  }
  CHECK(routers.router(1).current() == state::backup);
  CHECK_FALSE(routers.holds_vips());
  // When the IPv4 master falls silent too, both take over at the IPv4 timer: the IPv6 router waits
  // ready, not another master-down interval.
  clock.advance(3'609'375us);
  const auto steps = describe_all(routers.expire(clock.now()));
  REQUIRE(steps.size() >= 2);
  CHECK(routers.current() == state::master);
  CHECK(routers.router(1).current() == state::master);
}

TEST_CASE("dual-stack: timers a moment apart take over together, at the later one", "[vrrp][coupled]") {
  coupled_routers routers({defaults(), v6_defaults()});
  fake_clock clock;
  routers.handle(0, events::start{}, clock.now());
  clock.advance(1ms);
  routers.handle(1, events::start{}, clock.now());
  clock.advance(3'608'375us);  // the IPv4 timer runs out; the IPv6 one 1 ms later
  CHECK(describe_all(routers.expire(clock.now())) == std::vector<std::string>{"0:backup held_by_sibling"});
  clock.advance(1ms);
  CHECK(describe_all(routers.expire(clock.now())) ==
        std::vector<std::string>{"1:backup->master master_down_timer: " + become_master,
                                 "0:backup->master sibling: " + become_master});
}

TEST_CASE("coupled routers take one or two routers of different families", "[vrrp][coupled]") {
  CHECK_NOTHROW(coupled_routers({v6_defaults()}));
  CHECK_THROWS_AS(coupled_routers({}), std::invalid_argument);
  CHECK_THROWS_AS(coupled_routers({defaults(), defaults()}), std::invalid_argument);
  CHECK_THROWS_AS(coupled_routers({defaults(), v6_defaults(), defaults()}), std::invalid_argument);
}

}  // namespace
}  // namespace cplb::vrrp
