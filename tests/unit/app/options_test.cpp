// The command line: running the daemon, `migrate` and `status`.
#include "cplb/app/options.hpp"

#include <catch2/catch.hpp>

using namespace cplb::app;

namespace {

std::optional<options> parse(std::vector<std::string> args, std::string& error) {
  return parse_options(args, error);
}

}  // namespace

TEST_CASE("running the daemon takes --config") {
  std::string error;
  const auto o = parse({"-c", "/etc/cplb/cplb.yaml", "--check"}, error);
  REQUIRE(o);
  CHECK(o->what == command::run);
  CHECK(o->config_file == "/etc/cplb/cplb.yaml");
  CHECK(o->check_only);
  CHECK_FALSE(parse({}, error));
  CHECK(error == "--config FILE is required");
}

TEST_CASE("migrate takes --haproxy and an optional --keepalived") {
  std::string error;
  auto o = parse({"migrate", "--haproxy", "haproxy.cfg", "--keepalived=keepalived.conf"}, error);
  REQUIRE(o);
  CHECK(o->what == command::migrate);
  CHECK(o->haproxy_file == "haproxy.cfg");
  CHECK(o->keepalived_file == "keepalived.conf");
  CHECK_FALSE(parse({"migrate", "--keepalived", "k.conf"}, error));
  CHECK(error == "migrate: --haproxy FILE is required");
  CHECK_FALSE(parse({"migrate", "--haproxy"}, error));
  CHECK(error == "--haproxy needs a value");
  CHECK_FALSE(parse({"migrate", "--haproxy", "h.cfg", "-c", "x.yaml"}, error));
  CHECK(error == "unknown argument '-c'");
}

TEST_CASE("status takes -c FILE or --admin HOST:PORT, or neither") {
  std::string error;
  auto o = parse({"status"}, error);
  REQUIRE(o);
  CHECK(o->what == command::status);
  CHECK_FALSE(o->admin_address);
  o = parse({"status", "--admin", "[::1]:9100"}, error);
  REQUIRE(o);
  CHECK(o->admin_address->to_string() == "[::1]:9100");
  o = parse({"status", "-c", "/etc/cplb/cplb.yaml"}, error);
  REQUIRE(o);
  CHECK(o->config_file == "/etc/cplb/cplb.yaml");
  CHECK_FALSE(parse({"status", "--admin", "localhost:9100"}, error));
  CHECK(error == "--admin: 'localhost:9100' is not HOST:PORT with an IP address");
  CHECK_FALSE(parse({"status", "-c", "a.yaml", "--admin", "127.0.0.1:9100"}, error));
  CHECK(error == "status: give -c FILE or --admin HOST:PORT, not both");
}
