#include <catch2/catch.hpp>

#include <string>

#include "client_activity.hpp"

using cplb::proxy::client_activity;
using namespace std::chrono_literals;

namespace {

using time_point = client_activity::time_point;
const time_point start{1000s};
constexpr std::chrono::nanoseconds quiet = 5s;

/// A TLS record header and `length` bytes of payload.
std::string record(std::uint8_t type, std::size_t length) {
  std::string r{static_cast<char>(type), 3, 3, static_cast<char>(length >> 8), static_cast<char>(length & 0xff)};
  return r + std::string(length, 'x');
}

std::string handshake(std::size_t length) { return record(22, length); }
std::string data(std::size_t length) { return record(23, length); }

/// A client that has done its TLS handshake at `start`.
client_activity after_handshake() {
  client_activity a(start);
  a.on_bytes(handshake(512), start, quiet);
  return a;
}

}  // namespace

TEST_CASE("client_activity: a session is busy for `quiet` after it starts") {
  const client_activity a(start);
  CHECK_FALSE(a.quiet_for(quiet, start + 4s));
  CHECK(a.quiet_for(quiet, start + 5s));
}

TEST_CASE("client_activity: HTTP/2 control frames in small TLS records keep a watch quiet") {
  auto a = after_handshake();
  // A PING (34 bytes with TLS 1.3), WINDOW_UPDATEs (30, 43) every second for a minute.
  for (int s = 1; s <= 60; ++s)
    a.on_bytes(data(s % 3 == 0 ? 34 : s % 3 == 1 ? 30 : 43), start + std::chrono::seconds(s), quiet);
  CHECK(a.quiet_for(quiet, start + 60s));
}

TEST_CASE("client_activity: a request record makes the client busy") {
  auto a = after_handshake();
  a.on_bytes(data(30), start + 10s, quiet);
  REQUIRE(a.quiet_for(quiet, start + 10s));
  a.on_bytes(data(120), start + 11s, quiet);  // a HEADERS frame with a resource path
  CHECK_FALSE(a.quiet_for(quiet, start + 15s));
  CHECK(a.quiet_for(quiet, start + 16s));
  a.on_bytes(handshake(40), start + 30s, quiet);  // a renegotiation or key update is not quiet
  CHECK_FALSE(a.quiet_for(quiet, start + 31s));
}

TEST_CASE("client_activity: many small records within a window count as requests") {
  auto a = after_handshake();
  for (int i = 0; i < 12; ++i) a.on_bytes(data(40), start + 10s + std::chrono::milliseconds(100 * i), quiet);
  CHECK(a.quiet_for(quiet, start + 12s));  // 12 x 40 = 480 bytes: within the budget
  a.on_bytes(data(40), start + 12s, quiet);  // 520 > 512 within one window
  CHECK_FALSE(a.quiet_for(quiet, start + 12s));
}

TEST_CASE("client_activity follows records across reads") {
  auto a = after_handshake();
  // One 200-byte record arriving in three reads, its header split too.
  const auto big = data(200);
  a.on_bytes(std::span(big).first(3), start + 10s, quiet);
  REQUIRE(a.quiet_for(quiet, start + 10s));
  a.on_bytes(std::span(big).subspan(3, 100), start + 10s, quiet);
  CHECK_FALSE(a.quiet_for(quiet, start + 10s));
  a.on_bytes(std::span(big).subspan(103), start + 10s, quiet);
  // Then two small records in one read: control, not a request.
  const auto two = data(30) + data(34);
  a.on_bytes(two, start + 20s, quiet);
  CHECK(a.quiet_for(quiet, start + 20s));
}

TEST_CASE("client_activity on a plaintext stream treats each read as a record") {
  client_activity a(start);
  a.on_bytes(std::string("PING"), start + 10s, quiet);
  CHECK(a.quiet_for(quiet, start + 10s));
  a.on_bytes(std::string("GET /api/v1/namespaces/default/pods?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
             start + 11s, quiet);
  CHECK_FALSE(a.quiet_for(quiet, start + 11s));
}
