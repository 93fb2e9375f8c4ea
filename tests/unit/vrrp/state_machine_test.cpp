#include <stdexcept>

#include "machine_util.hpp"

// Deadlines are microseconds after the start of each scenario. With priority 100 and 1s:
// skew = 156 * 1s / 256 = 609375us, master-down = 3 * 1s + skew = 3609375us.
namespace cplb::vrrp {
namespace {

using namespace test;
using events::interface_changed;
using events::priority_changed;
using events::resume_as_master;
using events::shutdown;
using events::start;
using events::timer_expired;

const std::string become_master_100 = "send_advert(priority=100) add_vips send_garp";
/// A master stepping down: its last advert (see the split-brain tests), then the VIPs go.
const std::string step_down_100 = "master->backup higher_priority_advert: send_advert(priority=100) remove_vips";

TEST_CASE("a lone v3 instance becomes master after the master-down interval", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {3'609'374, timer_expired{}, "backup timer_not_due", 3'609'375},
             {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
             {4'609'375, timer_expired{}, "master advert_timer: send_advert(priority=100)", 5'609'375},
             {5'700'000, timer_expired{}, "master advert_timer: send_advert(priority=100)", 6'700'000},
         });
  CHECK(m.current() == state::master);
  CHECK(m.holds_vips());
}

TEST_CASE("the advert a master sends carries our settings", "[vrrp][machine]") {
  state_machine m(defaults());
  const auto t0 = fake_clock{}.now();
  m.handle(start{}, t0);
  const step s = m.handle(timer_expired{}, t0 + 3'609'375us);
  REQUIRE(s.actions.size() == 3);
  CHECK(std::get<send_advert>(s.actions[0]).message == advert{3, 51, 100, 100_cs, {vip}, us});
}

TEST_CASE("master-down timing: v3 scales the skew with the interval, v2 counts it in seconds", "[vrrp][machine]") {
  // Priority 200, 2s: v3 skew = 56 * 2s / 256 = 437500us; v2 skew = 56 * 1s / 256 = 218750us.
  for (const unsigned version : {2U, 3U}) {
    SECTION("version " + std::to_string(version)) {
      settings s = defaults(version);
      s.priority = 200;
      s.advert_interval = 200_cs;
      state_machine m(s);
      const offset down = version == 3 ? 6'437'500 : 6'218'750;
      run(m, {
                 {0, start{}, "init->backup startup", down},
                 {down, timer_expired{}, "backup->master master_down_timer: send_advert(priority=200) add_vips send_garp",
                  down + 2'000'000},
             });
      CHECK(m.skew_time() == (version == 3 ? 437'500us : 218'750us));
    }
  }
}

TEST_CASE("a backup hearing the master restarts its master-down timer", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {1'000'000, heard(peer_high, 150), "backup master_advert", 4'609'375},
             {2'000'000, heard(peer_low, 150), "backup master_advert", 5'609'375},
             {2'500'000, heard(peer_low, 100), "backup master_advert", 6'109'375},  // equal priority
             {6'109'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 7'109'375},
         });
}

TEST_CASE("a v3 backup learns the master's interval; as master it uses its own", "[vrrp][machine]") {
  // 500ms learned: skew = 156 * 500000 / 256 = 304687us, down = 1804687us.
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {1'000'000, heard(peer_high, 150, 50_cs), "backup master_advert", 2'804'687},
             {2'804'687, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 3'804'687},
         });
  CHECK(m.master_advert_interval() == 1s);
}

TEST_CASE("the learned interval is visible while backup", "[vrrp][machine]") {
  state_machine m(defaults());
  const auto t0 = fake_clock{}.now();
  m.handle(start{}, t0);
  m.handle(heard(peer_high, 150, 300_cs), t0);
  CHECK(m.master_advert_interval() == 3s);
  CHECK(m.master_down_interval() == 9s + 1'828'125us);  // 156 * 3s / 256
}

TEST_CASE("v2 drops adverts whose interval differs and never learns", "[vrrp][machine]") {
  state_machine m(defaults(2));
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {1'000'000, heard(peer_high, 150, 200_cs, 2), "backup interval_mismatch", 3'609'375},
             {2'000'000, heard(peer_high, 150, 100_cs, 2), "backup master_advert", 5'609'375},
         });
  CHECK(m.master_advert_interval() == 1s);
}

TEST_CASE("preempt: a backup ignores a lower-priority master and takes over when its timer runs out",
          "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {1'000'000, heard(peer_high, 150), "backup master_advert", 4'609'375},
             {2'000'000, heard(peer_high, 50), "backup lower_priority_advert", 4'609'375},
             {3'000'000, heard(peer_high, 50), "backup lower_priority_advert", 4'609'375},
             {4'000'000, heard(peer_high, 99), "backup lower_priority_advert", 4'609'375},
             {4'609'375, timer_expired{}, "backup->master preempt: " + become_master_100, 5'609'375},
         });
}

TEST_CASE("non-preempt: a backup keeps following a lower-priority master", "[vrrp][machine]") {
  settings s = defaults();
  s.preempt = false;
  state_machine m(s);
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {1'000'000, heard(peer_high, 50), "backup master_advert", 4'609'375},
             {2'000'000, heard(peer_high, 50), "backup master_advert", 5'609'375},
             {4'609'375, timer_expired{}, "backup timer_not_due", 5'609'375},
             {5'000'000, heard(peer_high, 50), "backup master_advert", 8'609'375},
         });
  CHECK(m.current() == state::backup);
}

TEST_CASE("priority 0: a backup takes over after the skew time only", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {1'000'000, heard(peer_high, 150), "backup master_advert", 4'609'375},
             {2'000'000, heard(peer_high, 0), "backup priority_zero_advert", 2'609'375},
             {2'609'375, timer_expired{}, "backup->master priority_zero_advert: " + become_master_100, 3'609'375},
         });
}

TEST_CASE("a master steps down for a higher priority, or an equal one from a higher address",
          "[vrrp][machine]") {
  struct heard_case {
    const char* name;
    ip_address sender;
    std::uint8_t prio;
    const char* expected;
  };
  const std::vector<heard_case> cases{
      {"higher priority, lower address", peer_low, 150, step_down_100.c_str()},
      {"owner 255", peer_low, 255, step_down_100.c_str()},
      {"equal priority, higher address", peer_high, 100, step_down_100.c_str()},
      {"equal priority, lower address", peer_low, 100, "master split_brain: send_advert(priority=100) send_garp"},
      {"lower priority, higher address", peer_high, 99, "master split_brain: send_advert(priority=100) send_garp"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      state_machine m(defaults());
      const bool steps_down = std::string(c.expected).starts_with("master->backup");
      run(m, {
                 {0, start{}, "init->backup startup", 3'609'375},
                 {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
                 // Stepping down: master-down timer from now; reasserting: advert timer from now.
                 {4'000'000, heard(c.sender, c.prio), c.expected, steps_down ? 7'609'375 : 5'000'000},
             });
      CHECK(m.holds_vips() == !steps_down);
    }
  }
}

TEST_CASE("a v3 master stepping down learns the new master's interval", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
             {4'000'000, heard(peer_high, 200, 200_cs), step_down_100,
              4'000'000 + 7'218'750},  // 3 * 2s + 156 * 2s / 256
         });
}

TEST_CASE("reassert happens at most once per advert interval", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
             {4'000'000, heard(peer_low, 50), "master split_brain: send_advert(priority=100) send_garp", 5'000'000},
             {4'500'000, heard(peer_low, 50), "master lower_priority_advert", 5'000'000},
             {4'999'999, heard(peer_low, 50), "master lower_priority_advert", 5'000'000},
             {5'000'000, heard(peer_low, 50), "master lower_priority_advert: send_advert(priority=100) send_garp",
              6'000'000},
         });
}

TEST_CASE("a split brain is reported once, and again only after two advert intervals without one",
          "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
             {4'000'000, heard(peer_low, 50), "master split_brain: send_advert(priority=100) send_garp", 5'000'000},
             {5'900'000, heard(peer_low, 50), "master lower_priority_advert: send_advert(priority=100) send_garp",
              6'900'000},
             // 2s after the last one heard: that master was gone, this is a new split brain.
             {7'900'000, heard(peer_low, 50), "master split_brain: send_advert(priority=100) send_garp", 8'900'000},
         });
}

TEST_CASE("the adverts of the master we preempted, until it yields, are no split brain", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {1'000'000, heard(peer_low, 50), "backup lower_priority_advert", 3'609'375},
             {3'609'375, timer_expired{}, "backup->master preempt: " + become_master_100, 4'609'375},
             // Its last advert as it steps down: reasserted, not counted.
             {3'610'000, heard(peer_low, 50), "master lower_priority_advert: send_advert(priority=100) send_garp",
              4'610'000},
             // The same peer as a master again, a master-down interval later, is a split brain.
             {7'219'375, heard(peer_low, 50), "master split_brain: send_advert(priority=100) send_garp", 8'219'375},
         });
}

TEST_CASE("a master stepping down sends its own priority once, so the winner hears it", "[vrrp][machine]") {
  state_machine m(defaults());
  fake_clock clock;
  m.handle(start{}, clock.now());
  clock.advance(3'609'375us);
  m.handle(timer_expired{}, clock.now());
  const step s = m.handle(heard(peer_high, 150), clock.now());
  REQUIRE(s.actions.size() == 2);
  const auto* last = std::get_if<send_advert>(&s.actions[0]);
  REQUIRE(last != nullptr);
  CHECK(last->message.priority == 100);
  CHECK(last->message.sender == us);
  CHECK(std::holds_alternative<remove_vips>(s.actions[1]));
  CHECK(m.current() == state::backup);
}

TEST_CASE("a master answers a priority-0 advert at once, once per advert interval", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
             {4'000'000, heard(peer_low, 0), "master priority_zero_advert: send_advert(priority=100)", 5'000'000},
             {4'100'000, heard(peer_low, 0), "master priority_zero_advert", 5'000'000},
             {4'999'999, heard(peer_low, 0), "master priority_zero_advert", 5'000'000},
             {5'000'000, heard(peer_low, 0), "master priority_zero_advert: send_advert(priority=100)", 6'000'000},
         });
}

TEST_CASE("adverts for others, of another version, with other VIPs, or our own are ignored", "[vrrp][machine]") {
  auto other_vrid = heard(peer_high, 150);
  other_vrid.message.virtual_router_id = 52;
  auto other_vips = heard(peer_high, 150);
  other_vips.message.addresses = {ip(192, 0, 2, 101)};
  auto extra_vip = heard(peer_high, 150);
  extra_vip.message.addresses.push_back(ip(192, 0, 2, 101));
  auto owner_other_vips = heard(peer_high, 255);
  owner_other_vips.message.addresses = {ip(192, 0, 2, 101)};
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {1'000'000, other_vrid, "backup wrong_vrid", 3'609'375},
             {1'000'000, heard(peer_high, 150, 100_cs, 2), "backup wrong_version", 3'609'375},
             {1'000'000, heard(us, 150), "backup own_advert", 3'609'375},
             {1'000'000, other_vips, "backup address_mismatch", 3'609'375},
             {1'000'000, extra_vip, "backup address_mismatch", 3'609'375},
             // RFC 5798 7.1: the owner's advert is used even with other addresses.
             {1'000'000, owner_other_vips, "backup master_advert", 4'609'375},
         });
}

TEST_CASE("the VIP list is compared as a set", "[vrrp][machine]") {
  settings s = defaults();
  s.virtual_ips = {ip(192, 0, 2, 100), ip(192, 0, 2, 101)};
  auto reordered = heard(peer_high, 150);
  reordered.message.addresses = {ip(192, 0, 2, 101), ip(192, 0, 2, 100)};
  state_machine m(s);
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {1'000'000, reordered, "backup master_advert", 4'609'375},
         });
}

TEST_CASE("an effective priority change is advertised at once by a master only", "[vrrp][machine]") {
  SECTION("master") {
    state_machine m(defaults());
    run(m, {
               {0, start{}, "init->backup startup", 3'609'375},
               {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
               {4'000'000, priority_changed{50}, "master priority_change: send_advert(priority=50)", 5'000'000},
               {4'100'000, priority_changed{50}, "master priority_change", 5'000'000},
               {5'000'000, timer_expired{}, "master advert_timer: send_advert(priority=50)", 6'000'000},
           });
    CHECK(m.priority() == 50);
  }
  SECTION("backup: nothing to send, the new priority sets the next skew") {
    // Priority 200: down = 3s + 56 * 1s / 256 = 3218750us.
    state_machine m(defaults());
    run(m, {
               {0, start{}, "init->backup startup", 3'609'375},
               {1'000'000, priority_changed{200}, "backup priority_change", 3'609'375},
               {2'000'000, heard(peer_high, 250), "backup master_advert", 5'218'750},
           });
  }
}

TEST_CASE("shutdown as master hands over: VIPs stay until another master is heard", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
             {5'000'000, shutdown{}, "master->init shutdown: send_advert(priority=0)", 8'609'375},
             {5'100'000, heard(peer_high, 0), "init priority_zero_advert", 8'609'375},
             {5'600'000, heard(peer_high, 50), "init handover_done: remove_vips", no_timer},
             {5'700'000, heard(peer_high, 50), "init not_running", no_timer},
         });
  CHECK_FALSE(m.holds_vips());
}

TEST_CASE("shutdown as master: VIPs go after the master-down interval when nobody takes over",
          "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
             {5'000'000, shutdown{}, "master->init shutdown: send_advert(priority=0)", 8'609'375},
             {8'609'374, timer_expired{}, "init timer_not_due", 8'609'375},
             {8'609'375, timer_expired{}, "init handover_timeout: remove_vips", no_timer},
         });
}

TEST_CASE("a second shutdown or an interface down ends a handover at once", "[vrrp][machine]") {
  for (const event& second : {event{shutdown{}}, event{interface_changed{false}}}) {
    state_machine m(defaults());
    const bool is_shutdown = std::holds_alternative<shutdown>(second);
    run(m, {
               {0, start{}, "init->backup startup", 3'609'375},
               {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
               {5'000'000, shutdown{}, "master->init shutdown: send_advert(priority=0)", 8'609'375},
               {5'100'000, second, is_shutdown ? "init shutdown: remove_vips" : "init interface_down: remove_vips",
                no_timer},
           });
  }
}

TEST_CASE("shutdown as backup or fault just stops; start again runs anew", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {1'000'000, start{}, "backup already_running", 3'609'375},
             {2'000'000, shutdown{}, "backup->init shutdown", no_timer},
             {2'100'000, shutdown{}, "init not_running", no_timer},
             {2'200'000, heard(peer_high, 150), "init not_running", no_timer},
             {2'300'000, timer_expired{}, "init timer_not_due", no_timer},
             {3'000'000, start{}, "init->backup startup", 6'609'375},
             {4'000'000, interface_changed{false}, "backup->fault interface_down", no_timer},
             {5'000'000, shutdown{}, "fault->init shutdown", no_timer},
         });
}

TEST_CASE("start during a handover releases the VIPs first", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
             {5'000'000, shutdown{}, "master->init shutdown: send_advert(priority=0)", 8'609'375},
             {6'000'000, start{}, "init->backup startup: remove_vips", 9'609'375},
         });
}

TEST_CASE("resume as master: no election, advert at once and every interval, VIPs kept", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             // add_vips finds them in place; no remove_vips, no priority 0.
             {0, resume_as_master{}, "init->master inherited: " + become_master_100, 1'000'000},
             {1'000'000, timer_expired{}, "master advert_timer: send_advert(priority=100)", 2'000'000},
             {2'000'000, timer_expired{}, "master advert_timer: send_advert(priority=100)", 3'000'000},
             {2'500'000, resume_as_master{}, "master already_running", 3'000'000},
             // From here a master like any other.
             {2'600'000, heard(peer_high, 150), step_down_100, 6'209'375},
         });
}

TEST_CASE("resume as master advertises the effective priority set before", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, priority_changed{50}, "init priority_change", no_timer},
             {0, resume_as_master{}, "init->master inherited: send_advert(priority=50) add_vips send_garp", 1'000'000},
         });
}

TEST_CASE("resume as master with the link down is a fault and releases the VIPs", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {0, interface_changed{false}, "init interface_down", no_timer},
             {0, resume_as_master{}, "init->fault interface_down: remove_vips", no_timer},
             {1'000'000, interface_changed{true}, "fault->backup interface_up", 4'609'375},
         });
  CHECK_FALSE(m.holds_vips());
}

TEST_CASE("resume as backup is a start: a fresh master-down timer", "[vrrp][machine]") {
  state_machine m(defaults());
  run(m, {
             {5'000'000, start{}, "init->backup startup", 8'609'375},
             {6'000'000, resume_as_master{}, "backup already_running", 8'609'375},
         });
}

TEST_CASE("interface down is a fault; up again starts over as backup", "[vrrp][machine]") {
  SECTION("as master") {
    state_machine m(defaults());
    run(m, {
               {0, start{}, "init->backup startup", 3'609'375},
               {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
               {4'000'000, interface_changed{false}, "master->fault interface_down: remove_vips", no_timer},
               {4'100'000, heard(peer_high, 150), "fault not_running", no_timer},
               {4'200'000, timer_expired{}, "fault timer_not_due", no_timer},
               {4'300'000, priority_changed{50}, "fault priority_change", no_timer},
               {4'400'000, interface_changed{false}, "fault interface_down", no_timer},
               // Priority 50: down = 3s + 206 * 1s / 256 = 3804687us.
               {5'000'000, interface_changed{true}, "fault->backup interface_up", 8'804'687},
               {6'000'000, interface_changed{true}, "backup interface_up", 8'804'687},
           });
    CHECK_FALSE(m.holds_vips());
  }
  SECTION("down before start") {
    state_machine m(defaults());
    run(m, {
               {0, interface_changed{false}, "init interface_down", no_timer},
               {1'000'000, start{}, "init->fault interface_down", no_timer},
               {2'000'000, interface_changed{true}, "fault->backup interface_up", 5'609'375},
           });
  }
}

TEST_CASE("an IPv6 router elects by priority, then by the higher link-local address", "[vrrp][machine]") {
  settings s = defaults();
  s.primary_ip = ip6("fe80::5");
  s.virtual_ips = {ip6("2001:db8::100")};
  const auto from = [](const char* sender, std::uint8_t prio) {
    return events::advert_received{advert{3, 51, prio, 100_cs, {ip6("2001:db8::100")}, ip6(sender)}};
  };
  state_machine m(s);
  run(m, {
             {0, start{}, "init->backup startup", 3'609'375},
             {3'609'375, timer_expired{}, "backup->master master_down_timer: " + become_master_100, 4'609'375},
             {4'000'000, from("fe80::3", 100), "master split_brain: send_advert(priority=100) send_garp", 5'000'000},
             {4'100'000, from("fe80::9", 100), step_down_100, 7'709'375},
         });
  // An IPv4 advert (another router of a dual-stack pair) never matches our VIPs.
  CHECK(m.handle(heard(peer_high, 200), {}).why == cause::address_mismatch);
}

TEST_CASE("settings out of range are rejected at construction", "[vrrp][machine]") {
  struct bad {
    const char* name;
    void (*change)(settings&);
  };
  const std::vector<bad> cases{
      {"version 1", [](settings& s) { s.version = 1; }},
      {"vrid 0", [](settings& s) { s.virtual_router_id = 0; }},
      {"priority 0", [](settings& s) { s.priority = 0; }},
      {"priority 255", [](settings& s) { s.priority = 255; }},
      {"v3 interval 0", [](settings& s) { s.advert_interval = 0_cs; }},
      {"v3 interval 40.96s", [](settings& s) { s.advert_interval = 4096_cs; }},
      {"v2 interval 1.5s", [](settings& s) { s.version = 2; s.advert_interval = 150_cs; }},
      {"v2 interval 256s", [](settings& s) { s.version = 2; s.advert_interval = 256s; }},
      {"256 VIPs", [](settings& s) { s.virtual_ips.assign(256, vip); }},
      {"an IPv6 VIP on an IPv4 router", [](settings& s) { s.virtual_ips.push_back(ip6("2001:db8::1")); }},
      {"v2 over IPv6", [](settings& s) {
         s.version = 2;
         s.primary_ip = ip6("fe80::1");
         s.virtual_ips = {ip6("2001:db8::1")};
       }},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      settings s = defaults();
      c.change(s);
      CHECK_THROWS_AS(state_machine(s), std::invalid_argument);
    }
  }
  SECTION("the limits themselves are fine") {
    settings s = defaults();
    s.advert_interval = 4095_cs;
    CHECK_NOTHROW(state_machine(s));
    s.version = 2;
    s.advert_interval = 255s;
    s.virtual_ips.assign(255, vip);
    CHECK_NOTHROW(state_machine(s));
  }
}

}  // namespace
}  // namespace cplb::vrrp
