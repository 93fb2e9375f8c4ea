#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "cplb/proxy/proxy.hpp"
#include "event_loop.hpp"
#include "heartbeat.hpp"

using cplb::proxy::event_loop;
using cplb::proxy::heartbeat;
using namespace std::chrono_literals;

TEST_CASE("a heartbeat counts the wait of its one no-op in flight") {
  heartbeat h;
  const heartbeat::time_point t0{std::chrono::seconds(100)};
  CHECK(h.waiting(t0) == 0s);
  REQUIRE(h.should_post(t0));
  CHECK(h.waiting(t0 + 2s) == 2s);
  // Not run yet: no second post, and the wait still counts from the first.
  CHECK_FALSE(h.should_post(t0 + 1s));
  CHECK(h.waiting(t0 + 7s) == 7s);
  h.ran();
  CHECK(h.waiting(t0 + 8s) == 0s);
  REQUIRE(h.should_post(t0 + 8s));
  CHECK(h.waiting(t0 + 9s) == 1s);
}

TEST_CASE("a heartbeat posted to an event loop waits until the loop turns") {
  event_loop loop;
  heartbeat h;
  const auto posted = std::chrono::steady_clock::now();
  REQUIRE(h.should_post(posted));
  loop.post([&h] { h.ran(); });
  CHECK(h.waiting(posted + 3s) == 3s);  // nobody runs the loop: stuck
  loop.run_once(0ms);
  CHECK(h.waiting(posted + 3s) == 0s);
}

TEST_CASE("the proxy names the workers whose loop does not turn") {
  cplb::proxy::proxy proxy(2, 100, {});
  // Before start() no loop turns: both workers look stuck, and pinging again piles nothing up.
  proxy.ping_workers();
  std::this_thread::sleep_for(30ms);
  proxy.ping_workers();
  auto stalled = proxy.stalled_workers(20ms);
  REQUIRE(stalled.size() == 2);
  CHECK(stalled[0].index == 0);
  CHECK(stalled[1].index == 1);
  CHECK(stalled[0].waited >= 30ms);
  CHECK(proxy.stalled_workers(10s).empty());

  // Once they run, they answer every ping.
  proxy.start();
  const auto all_answered = [&proxy] {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!proxy.stalled_workers(0ms).empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    return proxy.stalled_workers(0ms).empty();
  };
  CHECK(all_answered());
  proxy.ping_workers();
  CHECK(all_answered());
}
