// How problems print, and files that cannot be read.
#include <catch2/catch.hpp>

#include "temp_dir.hpp"

namespace cplb::config::test {

TEST_CASE("a problem prints as FILE:LINE:COL: key.path: what is wrong") {
  CHECK(problem{"cplb.yaml", 3, 7, "global.workers", "bad"}.to_string() ==
        "cplb.yaml:3:7: global.workers: bad");
  CHECK(problem{"cplb.yaml", 3, 7, "", "invalid YAML: x"}.to_string() ==
        "cplb.yaml:3:7: invalid YAML: x");
  CHECK(problem{"cplb.yaml", 0, 0, "", "cannot read: x"}.to_string() ==
        "cplb.yaml: cannot read: x");
}

TEST_CASE("a file that cannot be read is one problem") {
  temp_dir dir;
  std::string missing = dir.path() + "/missing.yaml";
  auto missing_result = load_file(missing);
  REQUIRE(std::holds_alternative<std::vector<problem>>(missing_result));
  auto problems = std::get<std::vector<problem>>(missing_result);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].to_string() == missing + ": cannot read: No such file or directory");

  auto dir_result = load_file(dir.path());
  REQUIRE(std::holds_alternative<std::vector<problem>>(dir_result));
  CHECK(std::get<std::vector<problem>>(dir_result)[0].message == "cannot read: not a regular file");
}

TEST_CASE("problems name the file they came from") {
  temp_dir dir;
  std::string file = dir.write("bad.yaml", "global: {workers: x}\n" + std::string(R"(frontends:
  - {name: fe, backend: be}
backends:
  - {name: be, servers: [{name: s1, address: 10.0.0.1:6443}]}
)"));
  auto result = load_file(file);
  REQUIRE(std::holds_alternative<std::vector<problem>>(result));
  auto problems = std::get<std::vector<problem>>(result);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].to_string() == file + ":1:19: global.workers: 'x' is not a whole number");
}

}  // namespace cplb::config::test
