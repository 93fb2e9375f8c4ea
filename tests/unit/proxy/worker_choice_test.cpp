#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "worker_choice.hpp"

using cplb::proxy::choose_worker;

TEST_CASE("choose_worker: a connection stays unless another worker carries clearly fewer") {
  const std::vector<std::int64_t> even{3, 3};
  CHECK(choose_worker(even, 0) == 0);
  const std::vector<std::int64_t> one_ahead{1, 0};
  CHECK(choose_worker(one_ahead, 0) == 1);
  CHECK(choose_worker(one_ahead, 1) == 1);
  const std::vector<std::int64_t> three{5, 2, 4};
  CHECK(choose_worker(three, 0) == 1);  // the fewest, not the next
  CHECK(choose_worker(three, 2) == 1);
  // An eighth of slack on large counts: 160 against 145 stays, against 139 moves.
  CHECK(choose_worker(std::vector<std::int64_t>{160, 145}, 0) == 0);
  CHECK(choose_worker(std::vector<std::int64_t>{160, 139}, 0) == 1);
}

TEST_CASE("choose_worker: connections that all hash to one worker still split evenly") {
  // The worst case of SO_REUSEPORT's hash: every connection arrives on worker 0.
  std::vector<std::int64_t> owed{0, 0};
  for (int i = 0; i < 4; ++i) ++owed[choose_worker(owed, 0)];
  CHECK(owed == std::vector<std::int64_t>{2, 2});
  for (int i = 0; i < 196; ++i) ++owed[choose_worker(owed, 0)];
  CHECK(owed[0] + owed[1] == 200);
  CHECK(owed[0] - owed[1] <= 200 / 8);
}
