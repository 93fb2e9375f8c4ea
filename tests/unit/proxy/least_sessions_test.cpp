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

std::set<int> picks(const std::array<__u32, CPLB_MAX_WORKERS>& sessions) {
  std::set<int> out;
  for (__u32 hash = 0; hash < 1000; ++hash) out.insert(cplb_pick_worker(sessions.data(), hash * 2654435761u));
  return out;
}

}  // namespace

TEST_CASE("the worker with the least load takes the connection") {
  CHECK(picks(slots({3, 1, 2})) == std::set<int>{1});
  CHECK(picks(slots({0, 6})) == std::set<int>{0});
  CHECK(picks(slots({2501, 2500})) == std::set<int>{1});  // exact with many idle sessions too
}

TEST_CASE("equal counts spread by hash over every worker") {
  CHECK(picks(slots({5, 5, 5, 5})) == std::set<int>{0, 1, 2, 3});
  CHECK(picks(slots({0, 0})) == std::set<int>{0, 1});
}

TEST_CASE("among equally loaded workers the hash decides") {
  CHECK(picks(slots({800, 900, 800, 801})) == std::set<int>{0, 2});
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
