#include <catch2/catch.hpp>

#include "cplb/core/duration.hpp"

using namespace std::chrono_literals;

TEST_CASE("parse_duration reads the units of the contract") {
  struct row { const char* text; std::optional<cplb::duration> want; };
  const row rows[] = {
      {"250ms", 250ms}, {"2s", 2s},       {"1m", 1min},    {"1h", 1h},       {"0s", 0ms},
      {"", std::nullopt}, {"5", std::nullopt}, {"s", std::nullopt}, {"-1s", std::nullopt},
      {"1.5s", std::nullopt}, {"2 s", std::nullopt}, {"2sec", std::nullopt}, {"1d", std::nullopt},
      {"99999999999999999h", std::nullopt},
  };
  for (const auto& r : rows) {
    INFO(r.text);
    CHECK(cplb::parse_duration(r.text) == r.want);
  }
}

TEST_CASE("format_duration picks the largest exact unit") {
  CHECK(cplb::format_duration(250ms) == "250ms");
  CHECK(cplb::format_duration(2s) == "2s");
  CHECK(cplb::format_duration(90s) == "90s");
  CHECK(cplb::format_duration(2min) == "2m");
  CHECK(cplb::format_duration(1h) == "1h");
  CHECK(cplb::format_duration(0ms) == "0ms");
}
