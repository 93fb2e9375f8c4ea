#include <algorithm>
#include <array>

#include "machine_util.hpp"
#include "cplb/vrrp/priority.hpp"

// Two instances on a simulated LAN: adverts are delivered to the other node at once while the
// link is up, timers fire in deadline order, and the VIP holders are tracked.
namespace cplb::vrrp {
namespace {

using namespace test;

constexpr ip_address address_a = ip(192, 0, 2, 5);
constexpr ip_address address_b = ip(192, 0, 2, 6);

class lan {
 public:
  lan(std::uint8_t priority_a, std::uint8_t priority_b, bool preempt_b = true)
      : settings_{node_settings(address_a, priority_a, true), node_settings(address_b, priority_b, preempt_b)},
        nodes_{state_machine(settings_[0]), state_machine(settings_[1])} {}

  /// While false, adverts are lost (a split brain).
  bool connected = true;

  /// Feeds `e` to node `n` ('A' or 'B') at `at` microseconds, after running the timers before it.
  void at(offset at, char n, const event& e) {
    run_until(at);
    feed(index(n), e, t0_ + std::chrono::microseconds(at));
  }

  /// Fires every timer due up to `end` microseconds, in deadline order.
  void run_until(offset end) {
    const auto limit = t0_ + std::chrono::microseconds(end);
    for (;;) {
      std::optional<std::size_t> next;
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        const auto d = nodes_[i].next_deadline();
        if (d && *d <= limit && (!next || *d < *nodes_[*next].next_deadline())) next = i;
      }
      if (!next) return;
      feed(*next, events::timer_expired{}, *nodes_[*next].next_deadline());
    }
  }

  /// Binary upgrade of node 'A' or 'B': its machine is replaced by a fresh one, not started; the
  /// old one sends nothing and its VIPs stay on the interface.
  void hand_over(offset at, char n) {
    run_until(at);
    nodes_[index(n)] = state_machine(settings_[index(n)]);
  }

  /// The node 'A' or 'B'.
  const state_machine& node(char n) const { return nodes_[index(n)]; }
  /// True while node 'A' or 'B' has the VIPs on its interface.
  bool has_vip(char n) const { return vips_[index(n)]; }
  /// `A@3414062 backup->master master_down_timer` for every state change after startup, plus
  /// `remove_vips <cause>` and `reassert <cause>` when they come without one.
  const std::vector<std::string>& history() const { return history_; }

 private:
  static settings node_settings(ip_address address, std::uint8_t prio, bool preempt) {
    settings s = defaults();
    s.primary_ip = address;
    s.priority = prio;
    s.preempt = preempt;
    return s;
  }
  static std::size_t index(char n) { return n == 'A' ? 0 : 1; }

  void feed(std::size_t i, const event& e, state_machine::time_point now) {
    REQUIRE(++depth_ < 10);  // adverts answered by adverts must settle
    const step s = nodes_[i].handle(e, now);
    record(i, s, now);
    for (const action& a : s.actions) {
      if (std::holds_alternative<add_vips>(a)) vips_[i] = true;
      if (std::holds_alternative<remove_vips>(a)) vips_[i] = false;
      if (const auto* sent = std::get_if<send_advert>(&a); sent && connected)
        feed(1 - i, events::advert_received{sent->message}, now);
    }
    --depth_;
  }

  /// Notes state changes after startup, VIP releases without one, and reasserts.
  void record(std::size_t i, const step& s, state_machine::time_point now) {
    const auto name = std::string(1, static_cast<char>('A' + i)) + "@" +
                      std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now - t0_).count()) + " ";
    const auto has = [&](auto kind) {
      return std::any_of(s.actions.begin(), s.actions.end(),
                         [](const action& a) { return std::holds_alternative<decltype(kind)>(a); });
    };
    if (s.changed() && s.why != cause::startup)
      history_.push_back(name + to_string(s.from) + "->" + to_string(s.to) + " " + to_string(s.why));
    else if (!s.changed() && has(remove_vips{}))
      history_.push_back(name + "remove_vips " + to_string(s.why));
    else if (!s.changed() && has(send_garp{}))
      history_.push_back(name + "reassert " + to_string(s.why));
  }

  std::array<settings, 2> settings_;
  std::array<state_machine, 2> nodes_;
  std::array<bool, 2> vips_{};
  std::vector<std::string> history_;
  state_machine::time_point t0_ = fake_clock{}.now();
  int depth_ = 0;
};

// Priority 150: down = 3s + 106 * 1s / 256 = 3414062us. Priority 100: 3609375us.

TEST_CASE("pair: the higher priority is elected", "[vrrp][pair]") {
  lan net(100, 150);
  net.at(0, 'A', events::start{});
  net.at(0, 'B', events::start{});
  net.run_until(20'000'000);
  CHECK(net.history() == std::vector<std::string>{"B@3414062 backup->master master_down_timer"});
  CHECK(net.has_vip('B'));
  CHECK_FALSE(net.has_vip('A'));
}

TEST_CASE("pair: a healed split brain converges on the winner, which reasserts", "[vrrp][pair]") {
  SECTION("by priority") {
    lan net(100, 150);
    net.connected = false;
    net.at(0, 'A', events::start{});
    net.at(500'000, 'B', events::start{});
    net.run_until(10'000'000);
    CHECK(net.has_vip('A'));
    CHECK(net.has_vip('B'));
    net.connected = true;
    // A's next advert (10609375) comes first: B reasserts, A hears it and steps down.
    net.run_until(20'000'000);
    CHECK(net.history() == std::vector<std::string>{
                               "A@3609375 backup->master master_down_timer",
                               "B@3914062 backup->master master_down_timer",
                               "B@10609375 reassert split_brain",
                               "A@10609375 master->backup higher_priority_advert",
                           });
    CHECK(net.has_vip('B'));
    CHECK_FALSE(net.has_vip('A'));
  }
  SECTION("the winner's advert crosses first: the loser's last advert makes it reassert") {
    lan net(100, 150);
    net.connected = false;
    net.at(0, 'A', events::start{});
    net.at(500'000, 'B', events::start{});
    net.run_until(10'700'000);  // A's advert at 10609375 is lost; B's at 10914062 is the first to cross
    net.connected = true;
    net.run_until(20'000'000);
    CHECK(net.history() == std::vector<std::string>{
                               "A@3609375 backup->master master_down_timer",
                               "B@3914062 backup->master master_down_timer",
                               "A@10914062 master->backup higher_priority_advert",
                               "B@10914062 reassert split_brain",
                           });
    CHECK(net.has_vip('B'));
    CHECK_FALSE(net.has_vip('A'));
  }
  SECTION("equal priority: the higher address wins") {
    lan net(100, 100);
    net.connected = false;
    net.at(0, 'A', events::start{});
    net.at(500'000, 'B', events::start{});
    net.connected = true;
    net.run_until(3'609'375);  // A becomes master and is heard: B waits until 7218750
    net.connected = false;
    net.run_until(10'300'000);  // B's advert at 10218750 is lost too
    net.connected = true;
    net.run_until(20'000'000);
    CHECK(net.history() == std::vector<std::string>{
                               "A@3609375 backup->master master_down_timer",
                               "B@7218750 backup->master master_down_timer",
                               "B@10609375 reassert split_brain",
                               "A@10609375 master->backup higher_priority_advert",
                           });
    CHECK(net.has_vip('B'));
    CHECK_FALSE(net.has_vip('A'));
  }
}

TEST_CASE("pair: tracking lowers the master's priority and the preempting peer takes over", "[vrrp][pair]") {
  lan net(150, 100);
  net.at(0, 'A', events::start{});
  net.at(0, 'B', events::start{});
  // A is master from 3414062, adverts every second; the last before 10s is at 9414062.
  net.at(10'000'000, 'A', events::priority_changed{effective_priority(150, 100, true)});
  net.run_until(20'000'000);
  // B ignores A's priority-50 adverts and takes over when its timer (9414062 + 3609375) ends.
  CHECK(net.history() == std::vector<std::string>{
                             "A@3414062 backup->master master_down_timer",
                             "B@13023437 backup->master preempt",
                             "A@13023437 master->backup higher_priority_advert",
                             "B@13023437 reassert lower_priority_advert",  // A's last advert: no split brain
                         });
  CHECK(net.has_vip('B'));
  CHECK_FALSE(net.has_vip('A'));
}

TEST_CASE("pair: without preempt the peer stays backup under a weakened master", "[vrrp][pair]") {
  lan net(150, 100, false);
  net.at(0, 'A', events::start{});
  net.at(0, 'B', events::start{});
  net.at(10'000'000, 'A', events::priority_changed{50});
  net.run_until(30'000'000);
  CHECK(net.history() == std::vector<std::string>{"A@3414062 backup->master master_down_timer"});
  CHECK(net.has_vip('A'));
}

TEST_CASE("pair: graceful handover keeps the VIPs until the peer is master", "[vrrp][pair]") {
  lan net(150, 100);
  net.at(0, 'A', events::start{});
  net.at(0, 'B', events::start{});
  net.at(10'000'000, 'A', events::shutdown{});
  net.run_until(10'609'374);  // B waits its skew (156 * 1s / 256) before taking over
  CHECK(net.has_vip('A'));
  CHECK_FALSE(net.has_vip('B'));
  net.run_until(20'000'000);
  CHECK(net.history() == std::vector<std::string>{
                             "A@3414062 backup->master master_down_timer",
                             "A@10000000 master->init shutdown",
                             "B@10609375 backup->master priority_zero_advert",
                             "A@10609375 remove_vips handover_done",
                         });
  CHECK(net.has_vip('B'));
  CHECK_FALSE(net.has_vip('A'));
  CHECK_FALSE(net.node('A').next_deadline());
}

TEST_CASE("pair: handover with nobody listening releases after the master-down interval", "[vrrp][pair]") {
  lan net(150, 100);
  net.at(0, 'A', events::start{});
  net.at(0, 'B', events::start{});
  net.connected = false;
  net.at(10'000'000, 'A', events::shutdown{});
  net.run_until(13'414'061);
  CHECK(net.has_vip('A'));
  net.run_until(13'414'062);
  CHECK_FALSE(net.has_vip('A'));
  CHECK(net.history().back() == "A@13414062 remove_vips handover_timeout");
}

TEST_CASE("pair: a master handed over to a resumed machine keeps the VIP", "[vrrp][pair]") {
  lan net(150, 100);
  net.at(0, 'A', events::start{});
  net.at(0, 'B', events::start{});
  // Five upgrades, each leaving A silent for 2.5s plus up to an advert interval before it: less
  // than B's master-down interval, 3.609375s.
  for (offset t = 10'000'000; t <= 50'000'000; t += 10'000'000) {
    net.hand_over(t, 'A');
    net.at(t + 2'500'000, 'A', events::resume_as_master{});
    CHECK(net.has_vip('A'));
  }
  net.run_until(60'000'000);
  CHECK(net.history() == std::vector<std::string>{
                             "A@3414062 backup->master master_down_timer",
                             "A@12500000 init->master inherited",
                             "A@22500000 init->master inherited",
                             "A@32500000 init->master inherited",
                             "A@42500000 init->master inherited",
                             "A@52500000 init->master inherited",
                         });
  CHECK(net.node('B').current() == state::backup);
  CHECK_FALSE(net.has_vip('B'));
}

TEST_CASE("pair: a backup handed over starts as backup and stays one", "[vrrp][pair]") {
  lan net(150, 100);
  net.at(0, 'A', events::start{});
  net.at(0, 'B', events::start{});
  net.hand_over(10'000'000, 'B');
  net.at(10'500'000, 'B', events::start{});
  net.run_until(20'000'000);
  CHECK(net.history() == std::vector<std::string>{"A@3414062 backup->master master_down_timer"});
  CHECK(net.node('B').current() == state::backup);
  CHECK(net.has_vip('A'));
  CHECK_FALSE(net.has_vip('B'));
}

TEST_CASE("pair: a hand-over silent past the master-down interval ends with one master", "[vrrp][pair]") {
  lan net(150, 100);
  net.at(0, 'A', events::start{});
  net.at(0, 'B', events::start{});
  net.hand_over(10'000'000, 'A');
  // B takes over at 9414062 + 3609375; A resumes later and, with the higher priority, preempts.
  net.at(14'000'000, 'A', events::resume_as_master{});
  net.run_until(20'000'000);
  CHECK(net.history() == std::vector<std::string>{
                             "A@3414062 backup->master master_down_timer",
                             "B@13023437 backup->master master_down_timer",
                             "A@14000000 init->master inherited",
                             "B@14000000 master->backup higher_priority_advert",
                             "A@14000000 reassert split_brain",  // two masters for a moment: counted
                         });
  CHECK(net.has_vip('A'));
  CHECK_FALSE(net.has_vip('B'));
}

TEST_CASE("pair: interface fault moves mastership and recovery takes it back", "[vrrp][pair]") {
  lan net(150, 100);
  net.at(0, 'A', events::start{});
  net.at(0, 'B', events::start{});
  net.at(10'000'000, 'A', events::interface_changed{false});
  net.connected = true;
  net.at(20'000'000, 'A', events::interface_changed{true});
  net.run_until(30'000'000);
  CHECK(net.history() == std::vector<std::string>{
                             "A@3414062 backup->master master_down_timer",
                             "A@10000000 master->fault interface_down",
                             "B@13023437 backup->master master_down_timer",
                             "A@20000000 fault->backup interface_up",
                             "A@23414062 backup->master preempt",
                             "B@23414062 master->backup higher_priority_advert",
                             "A@23414062 reassert lower_priority_advert",
                         });
  CHECK(net.has_vip('A'));
  CHECK_FALSE(net.has_vip('B'));
}

}  // namespace
}  // namespace cplb::vrrp
