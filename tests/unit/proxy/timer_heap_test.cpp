#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "timer_heap.hpp"

using cplb::proxy::heap_timer;
using cplb::proxy::timer_heap;
using namespace std::chrono_literals;

namespace {

const heap_timer::time_point t0{};

// Pops every due timer at `now` and returns them in order.
std::vector<heap_timer*> pop_all(timer_heap& heap, heap_timer::time_point now) {
  std::vector<heap_timer*> out;
  while (auto* t = heap.pop_due(now)) out.push_back(t);
  return out;
}

}  // namespace

TEST_CASE("timers come out earliest first, and only once due") {
  timer_heap heap;
  std::array<heap_timer, 4> t;
  heap.schedule(t[0], t0 + 30ms);
  heap.schedule(t[1], t0 + 10ms);
  heap.schedule(t[2], t0 + 40ms);
  heap.schedule(t[3], t0 + 20ms);
  CHECK(heap.earliest() == &t[1]);
  CHECK(heap.pop_due(t0 + 9ms) == nullptr);
  CHECK(pop_all(heap, t0 + 30ms) == std::vector<heap_timer*>{&t[1], &t[3], &t[0]});
  CHECK_FALSE(t[0].armed());
  CHECK(t[2].armed());
  CHECK(heap.size() == 1);
  heap.cancel(t[2]);
}

TEST_CASE("rescheduling moves a timer both ways, and cancel takes it out") {
  timer_heap heap;
  std::array<heap_timer, 3> t;
  heap.schedule(t[0], t0 + 10ms);
  heap.schedule(t[1], t0 + 20ms);
  heap.schedule(t[2], t0 + 30ms);
  heap.schedule(t[0], t0 + 50ms);  // later
  heap.schedule(t[2], t0 + 5ms);   // earlier
  CHECK(t[0].expiry() == t0 + 50ms);
  heap.cancel(t[1]);
  heap.cancel(t[1]);  // twice is harmless
  CHECK_FALSE(t[1].armed());
  CHECK(pop_all(heap, t0 + 1s) == std::vector<heap_timer*>{&t[2], &t[0]});
  CHECK(heap.empty());
}

TEST_CASE("a long random mix of schedule, cancel and pop matches a sorted reference") {
  constexpr std::size_t n = 200;
  std::array<heap_timer, n> timers;
  std::array<std::int64_t, n> due{};  // reference: -1 when not armed
  due.fill(-1);
  timer_heap heap;
  std::uint64_t state = 42;
  auto next = [&state] {  // xorshift64: deterministic
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  std::int64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    const auto i = next() % n;
    switch (next() % 4) {
      case 0:
      case 1: {
        const auto at = now + static_cast<std::int64_t>(next() % 1000);
        heap.schedule(timers[i], t0 + std::chrono::milliseconds(at));
        due[i] = at;
        break;
      }
      case 2:
        heap.cancel(timers[i]);
        due[i] = -1;
        break;
      case 3: {
        now += static_cast<std::int64_t>(next() % 50);
        std::int64_t last = -1;
        while (auto* t = heap.pop_due(t0 + std::chrono::milliseconds(now))) {
          const auto index = static_cast<std::size_t>(t - timers.data());
          REQUIRE(due[index] >= 0);
          REQUIRE(due[index] <= now);
          REQUIRE(due[index] >= last);  // in deadline order
          last = due[index];
          due[index] = -1;
        }
        // Nothing due is left behind.
        for (std::size_t k = 0; k < n; ++k) REQUIRE((due[k] < 0 || due[k] > now));
        break;
      }
    }
    const auto armed = static_cast<std::size_t>(std::count_if(due.begin(), due.end(), [](auto d) { return d >= 0; }));
    REQUIRE(heap.size() == armed);
    for (std::size_t k = 0; k < n; ++k) REQUIRE(timers[k].armed() == (due[k] >= 0));
  }
  for (auto& t : timers) heap.cancel(t);
  CHECK(heap.empty());
}
