// The table of `cplb status`, from /status documents: one captured from a running cplb
// (testdata/status.json) and small ones for what that one does not show.
#include "cplb/app/status_table.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

using cplb::app::status::render_status;

namespace {

std::string captured() {
  std::ifstream in(std::string(CPLB_TESTDATA_DIR) + "/status.json");
  std::ostringstream text;
  text << in.rdbuf();
  REQUIRE_FALSE(text.str().empty());
  return text.str();
}

std::vector<std::string> rendered(const std::string& json, bool colour) {
  std::string why;
  auto lines = render_status(json, colour, why);
  INFO(why);
  REQUIRE(lines);
  return *lines;
}

}  // namespace

TEST_CASE("a captured /status document as a table: frontends, then each backend's servers") {
  CHECK(rendered(captured(), false) ==
        std::vector<std::string>{
            "cplb config cplb.yaml, loaded 2026-12-02T00:48:37Z",
            "",
            "FRONTEND        LISTEN           BACKEND        SESSIONS",
            "kube-apiserver  127.0.0.1:17443  control-plane  0",
            "",
            "BACKEND control-plane  balance least_conn",
            "  SERVER    ADDRESS          STATE      SESSIONS  WEIGHT  LAST FAILED CHECK",
            "  master-1  127.0.0.1:17001  up         0         1       -",
            "  master-2  127.0.0.1:17002  not_ready  0         2       http_status: 500",
            "  master-3  127.0.0.1:17003  down       0         1       refused: Connection refused",
        });
}

TEST_CASE("with colour, only the states are coloured, and the columns stay aligned") {
  const auto lines = rendered(captured(), true);
  REQUIRE(lines.size() == 10);
  CHECK(lines[7] == "  master-1  127.0.0.1:17001  \x1b[32mup\x1b[0m         0         1       -");
  CHECK(
      lines[8] ==
      "  master-2  127.0.0.1:17002  \x1b[33mnot_ready\x1b[0m  0         2       http_status: 500");
  CHECK(lines[9].find("\x1b[31mdown\x1b[0m       0") != std::string::npos);
  CHECK(lines[3].find('\x1b') == std::string::npos);
}

TEST_CASE("VRRP instances, draining servers, a backend with no server up, a multi-line detail") {
  const std::string doc = R"({
    "config": {"file": "/etc/cplb/cplb.yaml", "loaded_at": "2024-05-01T12:00:00Z"},
    "frontends": [],
    "backends": [{"name": "cp", "balance": "round_robin", "all_down": true, "servers": [
      {"name": "m1", "address": "10.0.0.11:6443", "state": "draining", "reason": "timeout",
       "reason_detail": null, "active_sessions": 12, "weight": 1},
      {"name": "m2", "address": "10.0.0.12:6443", "state": "down", "reason": "tls_handshake",
       "reason_detail": "certificate verify failed\nself-signed", "active_sessions": 0, "weight": 1}]}],
    "vrrp_instances": [{"name": "VI_1", "state": "master", "effective_priority": 150},
                       {"name": "VI_2", "state": "backup", "effective_priority": 90}]})";
  const auto lines = rendered(doc, true);
  CHECK(lines[0] == "cplb config /etc/cplb/cplb.yaml, loaded 2024-05-01T12:00:00Z");
  CHECK(lines[2] == "FRONTEND  LISTEN  BACKEND  SESSIONS");
  CHECK(lines[4] ==
        "BACKEND cp  balance round_robin  \x1b[31mno server passes its check: all_down "
        "applies\x1b[0m");
  CHECK(lines[6] == "  m1      10.0.0.11:6443  \x1b[31mdraining\x1b[0m  12        1       timeout");
  CHECK(lines[7] ==
        "  m2      10.0.0.12:6443  \x1b[31mdown\x1b[0m      0         1       tls_handshake: "
        "certificate verify failed self-signed");
  CHECK(lines[9] == "VRRP INSTANCE  STATE   PRIORITY");
  CHECK(lines[10] == "VI_1           \x1b[32mmaster\x1b[0m  150");
  CHECK(lines[11] == "VI_2           backup  90");
}

TEST_CASE("anycast VIPs: announced, or withdrawn with the reason") {
  const std::string doc = R"({"frontends": [], "backends": [], "anycast": [
      {"name": "api", "vip": "192.0.2.100", "table": 198, "announced": true, "reason": null},
      {"name": "api", "vip": "2001:db8::100", "table": 198, "announced": false,
       "reason": "backend control-plane has no server up"}]})";
  const auto lines = rendered(doc, false);
  REQUIRE(lines.size() == 7);
  CHECK(lines[4] == "ANYCAST  VIP            TABLE  STATE      WHY WITHDRAWN");
  CHECK(lines[5] == "api      192.0.2.100    198    announced  -");
  CHECK(lines[6] == "api      2001:db8::100  198    withdrawn  backend control-plane has no server up");
}

TEST_CASE("what is not a /status document is refused with the reason") {
  std::string why;
  CHECK_FALSE(render_status("<html>Bad gateway</html>", false, why));
  CHECK_FALSE(why.empty());
  CHECK_FALSE(render_status("[1, 2]", false, why));
  CHECK(why == "the document is not a JSON object");
  CHECK_FALSE(render_status(R"({"backends": {"name": "cp"}})", false, why));
  CHECK(why == "backends is not an array");
}
