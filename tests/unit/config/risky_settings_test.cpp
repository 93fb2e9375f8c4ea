#include <catch2/catch.hpp>

#include "cplb/config/risky_settings.hpp"

using namespace cplb::config;

TEST_CASE("risky_settings warns of a bearer token sent in clear or to an unverified server") {
  config cfg;
  cfg.file = "cplb.yaml";
  cfg.backends.resize(3);
  cfg.backends[0].health_check.bearer_token_file = "/etc/cplb/token";
  cfg.backends[0].health_check.protocol = check_protocol::http;
  cfg.backends[1].health_check.bearer_token_file = "/etc/cplb/token";
  cfg.backends[1].health_check.tls.insecure_skip_verify = true;
  cfg.backends[2].health_check.bearer_token_file = "/etc/cplb/token";  // https, verified: fine
  const auto warnings = risky_settings(cfg);
  REQUIRE(warnings.size() == 2);
  CHECK_THAT(warnings[0], Catch::StartsWith("cplb.yaml: backends[0].health_check.bearer_token_file: warning:"));
  CHECK_THAT(warnings[0], Catch::Contains("clear text"));
  CHECK_THAT(warnings[1], Catch::StartsWith("cplb.yaml: backends[1].health_check.bearer_token_file: warning:"));
  CHECK_THAT(warnings[1], Catch::Contains("insecure_skip_verify"));

  cfg.backends[0].health_check.bearer_token_file.clear();
  cfg.backends[1].health_check.bearer_token_file.clear();
  CHECK(risky_settings(cfg).empty());
}
