// `cplb migrate` refuses input it cannot parse, naming the file and the line.
#include <catch2/catch.hpp>

#include "migrate_fixture.hpp"

using namespace cplb;
using namespace cplb::app::migrate::test;

namespace {

const std::string one_backend = R"(
frontend api
    bind :6443
    default_backend control-plane
backend control-plane
    server m1 10.0.0.11:6443 check
)";

app::migrate::error error_of(const std::string& haproxy, const std::string& keepalived = "") {
  auto result = migrate_text(haproxy, keepalived);
  if (const auto* yaml = std::get_if<std::string>(&result)) FAIL("migrated after all:\n" << *yaml);
  return std::get<app::migrate::error>(result);
}

}  // namespace

TEST_CASE("a server line without an address") {
  const auto e = migration_error("server-without-address.cfg");
  CHECK(e.to_string() ==
        testdata("server-without-address.cfg") + ":6: server master-1 has no address");
}

TEST_CASE("a keepalived block that is never closed names the line that opens it") {
  const auto e = migration_error("check-ssl.cfg", "unterminated-keepalived.conf");
  CHECK(e.file == testdata("unterminated-keepalived.conf"));
  CHECK(e.line == 1);
  CHECK(e.message == "the '{' of vrrp_instance VI_1 is never closed");
}

TEST_CASE("other input that cannot be parsed") {
  CHECK(error_of(one_backend, "vrrp_instance VI_1 {\n}\n}\n").line == 3);  // a stray '}'
  CHECK(error_of(one_backend, "{\n").message == "'{' opens no block: no keyword before it");
  const auto quote = error_of("frontend api\n    bind \"*:6443\n");
  CHECK(quote.line == 2);
  CHECK(quote.message == "unterminated \" quote");
  // The kubeadm guide's files as printed are templates: their placeholders must be filled in.
  const auto placeholder = error_of("frontend apiserver\n    bind *:${APISERVER_DEST_PORT}\n");
  CHECK(placeholder.line == 2);
  CHECK(placeholder.message.starts_with("'${APISERVER_DEST_PORT}' is a placeholder"));
  CHECK(error_of("    bind :6443\n").message == "'bind' is outside any section");
  CHECK(error_of("backend\n").message == "backend needs a name");
  CHECK(error_of("frontend api\n    bind\n").message == "bind has no address");
}

TEST_CASE("a config without a TCP frontend cplb can take is an error, not an empty config") {
  const auto e = error_of(
      "defaults\n    mode http\nfrontend web\n    bind :80\n    default_backend b\n"
      "backend b\n    server s 10.0.0.1:80\n");
  CHECK(e.line == 0);
  CHECK(e.to_string() == testdata("haproxy.cfg") +
                             ": no TCP frontend or listen section with a server cplb can take");
}
