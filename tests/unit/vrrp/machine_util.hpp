#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cplb/core/clock.hpp"
#include "cplb/vrrp/state_machine.hpp"
#include "test_util.hpp"

namespace cplb::vrrp::test {

using namespace std::chrono_literals;

constexpr ip_address us = ip(192, 0, 2, 5);        ///< our primary address
constexpr ip_address peer_low = ip(192, 0, 2, 3);  ///< a peer with a lower address
constexpr ip_address peer_high = ip(192, 0, 2, 9); ///< a peer with a higher address
constexpr ip_address vip = ip(192, 0, 2, 100);

/// v3, VRID 51, priority 100, 1s, preempt, our address, one VIP.
inline settings defaults(unsigned version = 3) {
  return settings{version, 51, 100, 100_cs, true, us, {vip}};
}

/// An advert received from `sender` matching defaults() except where told.
inline events::advert_received heard(ip_address sender, std::uint8_t prio,
                                     centiseconds interval = 100_cs, unsigned version = 3) {
  return {advert{version, 51, prio, interval, {vip}, sender}};
}

/// `backup->master master_down_timer: send_advert(priority=100) add_vips send_garp`.
inline std::string describe(const step& s) {
  std::string out = to_string(s.from);
  if (s.changed()) out += std::string("->") + to_string(s.to);
  out += std::string(" ") + to_string(s.why);
  for (std::size_t i = 0; i < s.actions.size(); ++i) out += (i == 0 ? ": " : " ") + to_string(s.actions[i]);
  return out;
}

/// Microseconds since the start of a scenario.
using offset = std::int64_t;

/// One row of a scenario: at `at`, feed `input`, expect `expected` and then `deadline`.
struct row {
  offset at;
  event input;
  std::string expected;
  std::optional<offset> deadline;
};

/// No timer running.
inline constexpr std::optional<offset> no_timer = std::nullopt;

/// Feeds the rows in order to `m` on a fake clock and checks every step and deadline.
inline void run(state_machine& m, const std::vector<row>& rows) {
  fake_clock clock;
  const auto t0 = clock.now();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const row& r = rows[i];
    const auto at = t0 + std::chrono::microseconds(r.at);
    REQUIRE(at >= clock.now());
    clock.advance(at - clock.now());
    const step s = m.handle(r.input, clock.now());
    INFO("row " << i << " at " << r.at << "us");
    CHECK(describe(s) == r.expected);
    std::optional<offset> deadline;
    if (const auto d = m.next_deadline())
      deadline = std::chrono::duration_cast<std::chrono::microseconds>(*d - t0).count();
    CHECK(deadline == r.deadline);
  }
}

}  // namespace cplb::vrrp::test
