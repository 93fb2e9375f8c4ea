// The placement rule of the reuseport BPF program (bpf/least_sessions.h), as plain C.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <set>

#include "bpf/least_sessions.h"

namespace {

std::array<__u32, CPLB_MAX_WORKERS> slots(std::initializer_list<__u32> workers) {
  std::array<__u32, CPLB_MAX_WORKERS> out;
  out.fill(CPLB_NO_WORKER);
  std::copy(workers.begin(), workers.end(), out.begin());
  return out;
}

// The slots picked whatever slot was chosen last.
std::set<int> picks(const std::array<__u32, CPLB_MAX_WORKERS>& load) {
  std::set<int> out;
  for (__u32 last = 0; last < CPLB_MAX_WORKERS; ++last) out.insert(cplb_pick_worker(load.data(), last));
  return out;
}

}  // namespace

TEST_CASE("the worker with the least load takes the connection") {
  CHECK(picks(slots({3, 1, 2})) == std::set<int>{1});
  CHECK(picks(slots({0, 6})) == std::set<int>{0});
  CHECK(picks(slots({2501, 2500})) == std::set<int>{1});  // exact with many idle sessions too
}

TEST_CASE("equally loaded workers take turns, starting after the one chosen last") {
  const auto load = slots({5, 5, 5, 5});
  CHECK(cplb_pick_worker(load.data(), 0) == 1);
  CHECK(cplb_pick_worker(load.data(), 2) == 3);
  CHECK(cplb_pick_worker(load.data(), 3) == 0);  // past the last worker, back to the first
  CHECK(cplb_pick_worker(load.data(), 63) == 0);
  CHECK(picks(load) == std::set<int>{0, 1, 2, 3});
  CHECK(picks(slots({800, 900, 800, 801})) == std::set<int>{0, 2});
}

TEST_CASE("a connection that follows an idle one does not make one worker carry the rest") {
  // iperf3 -P 4: a control connection, then four streams, placed one after the other; each
  // placement adds one to the chosen worker's load (its pending count).
  std::array<__u32, CPLB_MAX_WORKERS> load = slots({0, 0});
  std::array<int, 2> streams{};
  __u32 last = 0;
  for (int connection = 0; connection < 5; ++connection) {
    const int slot = cplb_pick_worker(load.data(), last);
    REQUIRE(slot >= 0);
    ++load[static_cast<std::size_t>(slot)];
    if (connection > 0) ++streams[static_cast<std::size_t>(slot)];
    last = static_cast<__u32>(slot);
  }
  CHECK(streams == std::array<int, 2>{2, 2});
}

TEST_CASE("slots without a worker are never picked") {
  CHECK(picks(slots({7})) == std::set<int>{0});
  CHECK(cplb_pick_worker(slots({}).data(), 12345) == -1);
}

TEST_CASE("a worker's load counts what was placed on it and not yet accepted") {
  CHECK(cplb_worker_load(3, 2) == 5);
  CHECK(cplb_worker_load(3, 0) == 3);
  CHECK(cplb_worker_load(CPLB_NO_WORKER, 5) == CPLB_NO_WORKER);
}

TEST_CASE("a pending count lapses when nothing was placed on the worker for a while") {
  const __u64 placed = 1'000'000'000;
  CHECK(cplb_live_pending(4, placed, placed + 1'000'000) == 4);  // a millisecond later
  CHECK(cplb_live_pending(4, placed, placed + CPLB_PENDING_LAPSE_NS) == 4);
  CHECK(cplb_live_pending(215, placed, placed + CPLB_PENDING_LAPSE_NS + 1) == 0);  // leaked
  CHECK(cplb_live_pending(-4, placed, placed + 1) == 0);  // accepts outran the program's count
}
