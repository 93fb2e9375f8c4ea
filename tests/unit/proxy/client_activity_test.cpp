#include <catch2/catch.hpp>

#include <span>
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

// save and restore: what a binary upgrade carries of a session's client.

namespace {

/// `a` saved at `saved_at` and restored in another process whose clock reads `restored_at`.
client_activity moved(const client_activity& a, time_point saved_at, time_point restored_at) {
  return client_activity::restore(a.save(saved_at), restored_at);
}

/// Whether `a` is quiet just after it reads `bytes` at `at`.
bool quiet_after(client_activity& a, std::span<const char> bytes, time_point at) {
  a.on_bytes(bytes, at, quiet);
  return a.quiet_for(quiet, at);
}

/// A client past its handshake that had sent the first `cut` bytes of `record` at start + 10 s
/// when it was moved, at start + 20 s, to another process whose clock reads `elsewhere`.
client_activity moved_within(const std::string& record, std::size_t cut, time_point elsewhere) {
  auto a = after_handshake();
  a.on_bytes(std::span(record).first(cut), start + 10s, quiet);
  return moved(a, start + 20s, elsewhere);
}

}  // namespace

TEST_CASE("client_activity: save and restore keep what quiet_for answers, on another clock") {
  const time_point elsewhere{5000s};
  SECTION("a fresh session") {
    const client_activity a(start);
    const auto b = moved(a, start + 3s, elsewhere);
    CHECK_FALSE(b.quiet_for(quiet, elsewhere + 1s));  // 4 s since its start
    CHECK(b.quiet_for(quiet, elsewhere + 2s));
  }
  SECTION("a request 2 s before the hand-over") {
    auto a = after_handshake();
    a.on_bytes(data(200), start + 8s, quiet);
    const auto b = moved(a, start + 10s, elsewhere);
    CHECK_FALSE(b.quiet_for(quiet, elsewhere + 3s - 1ns));
    CHECK(b.quiet_for(quiet, elsewhere + 3s));
  }
  SECTION("quiet for long already") {
    const auto a = after_handshake();
    const auto b = moved(a, start + 1h, elsewhere);
    CHECK(b.quiet_for(quiet, elsewhere));
    CHECK(b.quiet_for(1h, elsewhere));
    CHECK_FALSE(b.quiet_for(1h + 1s, elsewhere));
  }
  SECTION("saved twice across two hand-overs") {
    auto a = after_handshake();
    a.on_bytes(data(100), start + 10s, quiet);
    const auto b = moved(moved(a, start + 11s, elsewhere), elsewhere + 2s, start);
    CHECK_FALSE(b.quiet_for(quiet, start + 2s - 1ns));
    CHECK(b.quiet_for(quiet, start + 2s));
  }
}

TEST_CASE("client_activity: the control budget's window carries over a hand-over") {
  auto a = after_handshake();
  for (int i = 0; i < 12; ++i) a.on_bytes(data(40), start + 10s, quiet);  // 480 of the 512 bytes
  REQUIRE(a.quiet_for(quiet, start + 10s));
  const time_point elsewhere{5000s};
  SECTION("within the window, one more small record passes the budget") {
    auto b = moved(a, start + 11s, elsewhere);
    b.on_bytes(data(40), elsewhere + 1s, quiet);  // 3 s into the window
    CHECK_FALSE(b.quiet_for(quiet, elsewhere + 1s));
  }
  SECTION("once the window is over, it starts afresh") {
    auto b = moved(a, start + 11s, elsewhere);
    b.on_bytes(data(40), elsewhere + 4s, quiet);  // 5 s after the window started
    CHECK(b.quiet_for(quiet, elsewhere + 4s));
  }
}

TEST_CASE("client_activity: a TLS record cut by the hand-over is one record, not two") {
  const time_point elsewhere{5000s};
  SECTION("cut in its payload: a request arrives as one") {
    auto a = after_handshake();
    a.on_bytes(data(30), start + 10s, quiet);
    const auto big = data(200);
    a.on_bytes(std::span(big).first(60), start + 10s, quiet);
    // The header said 200 bytes: the request is known at once; the hand-over keeps the rest.
    REQUIRE_FALSE(a.quiet_for(quiet, start + 14s));
    auto b = moved(a, start + 20s, elsewhere);
    REQUIRE(b.quiet_for(quiet, elsewhere));
    b.on_bytes(std::span(big).subspan(60), elsewhere + 1s, quiet);
    // The rest is payload, not a new record header (it would read 'x' = 120 as a type, and
    // 0x7878 bytes as a length, losing sync): the client is still quiet...
    CHECK(b.quiet_for(quiet, elsewhere + 1s));
    // ...and the next small record is parsed as one.
    CHECK(quiet_after(b, data(30), elsewhere + 2s));
    CHECK_FALSE(quiet_after(b, data(100), elsewhere + 3s));
  }
  SECTION("cut in its header: the record is recognised once the header is whole") {
    const auto big = data(200);
    auto b = moved_within(big, 3, elsewhere);
    REQUIRE(b.quiet_for(quiet, elsewhere));
    CHECK_FALSE(quiet_after(b, std::span(big).subspan(3, 2), elsewhere + 1s));  // the length: a request
    CHECK(quiet_after(b, std::span(big).subspan(5), elsewhere + 7s));  // its payload: nothing new
    CHECK(quiet_after(b, data(30), elsewhere + 8s));
  }
  SECTION("cut in a small record's payload: the rest does not count as a request") {
    const auto small = data(40);
    auto b = moved_within(small, 20, elsewhere);
    CHECK(quiet_after(b, std::span(small).subspan(20), elsewhere + 1s));  // 25 'x': would be a 'plain' read
    CHECK(quiet_after(b, data(40), elsewhere + 2s));
  }
}

TEST_CASE("client_activity: a plaintext stream stays plaintext across a hand-over") {
  client_activity a(start);
  a.on_bytes(std::string("PING"), start + 10s, quiet);
  const time_point elsewhere{5000s};
  auto b = moved(a, start + 20s, elsewhere);
  // Were it unknown again, a first byte of 22 would switch it to TLS parsing.
  CHECK(quiet_after(b, std::string("\x16short"), elsewhere + 1s));
  CHECK_FALSE(quiet_after(b, std::string(100, '\x16'), elsewhere + 2s));
}

TEST_CASE("client_activity: restore takes another process's out-of-range values safely") {
  const std::uint8_t have = GENERATE(5, 6, 250);  // a header holds at most 4 before it is parsed
  INFO("header_have " << int{have});
  cplb::proxy::handed_activity saved;
  saved.framing = 200;  // no such framing: unknown, decided by the next bytes
  saved.header_have = have;
  saved.record_left = 0;
  saved.since_request_ns = std::chrono::nanoseconds(60s).count();
  const time_point now{5000s};
  auto a = client_activity::restore(saved, now);
  REQUIRE(a.quiet_for(quiet, now));
  // Parsed from a fresh header (nothing written past the one it has): a handshake, a request.
  a.on_bytes(handshake(100), now + 1s, quiet);
  CHECK_FALSE(a.quiet_for(quiet, now + 1s));
}

TEST_CASE("client_activity: unseen bulk bytes are a request; within their record the records are still followed") {
  auto a = after_handshake();
  const auto big = data(16000);
  a.on_bytes(big.substr(0, 1000), start + 10s, quiet);  // the record's header and its start
  a.on_unseen(16000 - 995, start + 11s, quiet);          // the rest of it, spliced
  CHECK_FALSE(a.quiet_for(quiet, start + 15s));
  a.on_bytes(data(30), start + 20s, quiet);  // a control record, parsed as such: still quiet
  CHECK(a.quiet_for(quiet, start + 25s));
}

TEST_CASE("client_activity: past the record they started in, unseen bytes leave each read standing for a record") {
  auto a = after_handshake();
  a.on_unseen(100000, start + 10s, quiet);  // several records, their headers unseen
  CHECK_FALSE(a.quiet_for(quiet, start + 14s));
  a.on_bytes(std::string(40, 'x'), start + 20s, quiet);  // short: control traffic
  CHECK(a.quiet_for(quiet, start + 25s));
  a.on_bytes(std::string(200, 'x'), start + 30s, quiet);  // long: a request
  CHECK_FALSE(a.quiet_for(quiet, start + 34s));
}
