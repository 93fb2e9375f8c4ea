#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "bpf/session_redirect.h"
#include "repeated_bytes.hpp"

using cplb::proxy::drop_repeats;

namespace {

/// A leg with repeats posted at (offset, bytes).
cplb_leg posted(std::initializer_list<cplb_repeat> repeats) {
  cplb_leg leg{};
  for (const auto& r : repeats) leg.repeat[leg.repeats++ % CPLB_REPEAT_SLOTS] = r;
  return leg;
}

/// What drop_repeats keeps of `read`, read at `offset`.
std::string kept(cplb_leg& leg, std::uint64_t& done, std::uint64_t offset, std::string read) {
  read.resize(drop_repeats(leg, done, offset, read.data(), read.size()));
  return read;
}

}  // namespace

TEST_CASE("drop_repeats keeps a read with no repeat whole") {
  auto leg = posted({});
  std::uint64_t done = 0;
  CHECK(kept(leg, done, 0, "abcdef") == "abcdef");
  CHECK(done == 0);
}

TEST_CASE("drop_repeats drops a repeated head inside one read") {
  // "abc" was passed, then a segment "bcXY" whose "bc" TCP had delivered already.
  auto leg = posted({{3, 2}});
  std::uint64_t done = 0;
  CHECK(kept(leg, done, 0, "abcbcXY") == "abcXY");
  CHECK(done == 1);
}

TEST_CASE("drop_repeats follows a repeat over several reads") {
  auto leg = posted({{2, 5}});
  std::uint64_t done = 0;
  CHECK(kept(leg, done, 0, "ab123") == "ab");
  CHECK(done == 0);  // the repeat goes on
  CHECK(kept(leg, done, 5, "45") == "");
  CHECK(kept(leg, done, 7, "cd") == "cd");
  CHECK(done == 1);
}

TEST_CASE("drop_repeats drops several repeats in one read and leaves later ones for later reads") {
  auto leg = posted({{1, 1}, {3, 2}, {10, 1}});
  std::uint64_t done = 0;
  CHECK(kept(leg, done, 0, "aXbYYc") == "abc");
  CHECK(done == 2);
  CHECK(kept(leg, done, 6, "defg") == "defg");
  CHECK(kept(leg, done, 10, "Zh") == "h");
  CHECK(done == 3);
}

TEST_CASE("drop_repeats finds repeats past the ring's first round") {
  cplb_leg leg{};
  std::uint64_t done = 0;
  std::uint64_t offset = 0;
  for (int i = 0; i < 3 * CPLB_REPEAT_SLOTS; ++i) {
    leg.repeat[leg.repeats++ % CPLB_REPEAT_SLOTS] = {offset + 1, 1};
    CHECK(kept(leg, done, offset, "aRb") == "ab");
    offset += 3;
  }
  CHECK(done == 3 * CPLB_REPEAT_SLOTS);
}
