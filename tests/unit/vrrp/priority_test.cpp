#include <catch2/catch.hpp>

#include "cplb/vrrp/priority.hpp"

namespace cplb::vrrp {
namespace {

TEST_CASE("effective_priority", "[vrrp][priority]") {
  struct row {
    unsigned base, penalty;
    bool down;
    unsigned expected;
  };
  const std::vector<row> rows{
      {100, 50, false, 100}, {100, 50, true, 50}, {100, 99, true, 1}, {100, 100, true, 1},
      {100, 500, true, 1},   {254, 0, true, 254}, {1, 50, true, 1},   {254, 50, false, 254},
  };
  for (const auto& r : rows) {
    INFO(r.base << " - " << r.penalty << " down=" << r.down);
    CHECK(effective_priority(r.base, r.penalty, r.down) == r.expected);
  }
  static_assert(effective_priority(100, 50, true) == 50);
}

}  // namespace
}  // namespace cplb::vrrp
