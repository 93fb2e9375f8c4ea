// Durations as the loader reads them (core's parse_duration, through a config value).
#include <catch2/catch.hpp>

#include "temp_dir.hpp"

namespace cplb::config::test {
namespace {

load_result load_with_connect_timeout(const std::string& value) {
  return load_string("frontends: [{name: fe, backend: be, connect_timeout: " + value +
                         "}]\nbackends: [{name: be, servers: [{name: s1, address: 10.0.0.1:1}]}]\n",
                     "test.yaml");
}

}  // namespace

TEST_CASE("durations are a whole number and a unit") {
  struct row {
    const char* text;
    long long milliseconds;
  };
  for (auto [text, ms] : {row{"250ms", 250}, row{"2s", 2000}, row{"1m", 60000}, row{"1h", 3600000},
                          row{"1500ms", 1500}, row{"90s", 90000}}) {
    INFO(text);
    auto result = load_with_connect_timeout(text);
    REQUIRE(std::holds_alternative<config>(result));
    CHECK(std::get<config>(result).frontends[0].connect_timeout.count() == ms);
  }
}

TEST_CASE("malformed durations are reported") {
  for (const char* text : {"2", "2x", "-1s", "1.5s", "ms", "s2", "2 s", "1d", "2S", "''"}) {
    INFO(text);
    auto problems = std::get<std::vector<problem>>(load_with_connect_timeout(text));
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].key_path == "frontends[0].connect_timeout");
    CHECK_THAT(problems[0].message, Catch::Contains("is not a duration (write a whole number "
                                                    "and a unit: 250ms, 2s, 1m or 1h)"));
  }
}

}  // namespace cplb::config::test
