#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <vector>

#include "session_harness.hpp"

using cplb::backend::down_reason;
using cplb::backend::server_state;
using cplb::proxy::session;
using namespace cplb::proxy::test;

namespace {

/// A session connected to the test's listener, with both peers in the test's hands.
struct connected {
  unique_fd client;
  unique_fd server;
  session* s = nullptr;  ///< valid until the session ends
};

/// Accepts the session's upstream connection on `listener`, and waits until the session has
/// seen its connect complete (the kernel completes it before the session hears of it).
void accept_connected(fake_host& host, connected& c, int listener) {
  c.server = accept_upstream(host, listener);
  host.run_until([&] { return c.s->server() && c.s->server()->totals().connections == 1; },
                 "the session to see its connect complete");
}

connected connect_session(fake_host& host, const cplb::generation::snapshot_ptr& gen,
                          int listener) {
  connected c;
  c.s = start_session(host, gen, c.client);
  accept_connected(host, c, listener);
  return c;
}

/// A session on `host`, connected to the one server of `gen`: the listener's.
struct one_server_session {
  fake_host host;
  unique_fd listener = listening_socket();
  const cplb::generation::snapshot_ptr gen = make_generation({port_of(listener.get())});
  connected c = connect_session(host, gen, listener.get());
};

/// A host and one server, the listener's, for a frontend that waits up to 10 s for the client's
/// first bytes before it connects upstream.
struct first_data_server {
  fake_host host;
  unique_fd listener = listening_socket();
  const cplb::generation::snapshot_ptr gen = make_generation(
      {port_of(listener.get())},
      [](cplb::config::config& cfg) { cfg.frontends[0].first_data_timeout = 10s; });
};

/// A few bytes each way, read by the other peer.
void exchange(fake_host& host, const connected& c) {
  send_text(c.client.get(), "hello");
  CHECK(receive(host, c.server.get(), 5) == "hello");
  send_text(c.server.get(), "world!");
  CHECK(receive(host, c.client.get(), 6) == "world!");
}

/// Ends the session cleanly, the client first, and waits until it is freed.
void close_cleanly(fake_host& host, connected& c) {
  const int ended = host.ended;
  c.client.reset();
  CHECK(wait_end(host, c.server.get()) == 0);
  c.server.reset();
  host.run_until_ended(ended + 1);
}

/// Sends `pattern`'s bytes from `offset` (up to `end`) while `fd` takes them: the count sent.
template <typename Pattern>
std::size_t send_stream(int fd, std::size_t offset, std::size_t end, Pattern pattern) {
  std::vector<char> chunk(64 * 1024);
  std::size_t sent = 0;
  while (offset + sent < end) {
    const auto size = std::min(chunk.size(), end - offset - sent);
    for (std::size_t i = 0; i < size; ++i) chunk[i] = pattern(offset + sent + i);
    const auto n = ::send(fd, chunk.data(), size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      REQUIRE(errno == EAGAIN);
      break;
    }
    sent += static_cast<std::size_t>(n);
  }
  return sent;
}

/// The byte at `offset` of the backlog test's stream: a period prime to the scratch size, so
/// that a chunk out of place shows.
char pattern_at(std::size_t offset) { return static_cast<char>(offset % 251); }

/// Sends the stream's bytes from `offset` (up to `end`) while `fd` takes them: the count sent.
std::size_t send_pattern(int fd, std::size_t offset, std::size_t end) {
  return send_stream(fd, offset, end, pattern_at);
}

/// What one peer has read of a stream, checked byte by byte against its pattern.
template <typename Pattern>
struct stream_reader {
  Pattern pattern;
  std::size_t received = 0;
  std::size_t first_wrong = std::string::npos;
  std::vector<char> buffer = std::vector<char>(256 * 1024);

  /// Reads what `fd` has (the stream must not end).
  void read_from(int fd) {
    for (;;) {
      const auto n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n < 0 && errno == EAGAIN) return;
      REQUIRE(n > 0);
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i)
        if (buffer[i] != pattern(received + i) && first_wrong == std::string::npos) first_wrong = received + i;
      received += static_cast<std::size_t>(n);
    }
  }
};

/// TCP segments the socket `fd` has received so far.
std::uint32_t segments_in(int fd) {
  tcp_info info{};
  socklen_t size = sizeof info;
  REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) == 0);
  return info.tcpi_segs_in;
}

/// Bytes written to the Unix socket `fd` that its peer has not read yet.
int unread_by_peer(int fd) {
  int queued = -1;
  REQUIRE(::ioctl(fd, SIOCOUTQ, &queued) == 0);
  return queued;
}

}  // namespace

TEST_CASE_METHOD(one_server_session, "session: bytes pass both ways and a half-close passes on; it ends once both sides have closed") {
  exchange(host, c);

  SECTION("the client half-closes first") {
    REQUIRE(::shutdown(c.client.get(), SHUT_WR) == 0);
    CHECK(wait_end(host, c.server.get()) == 0);
    // The other direction still works.
    send_text(c.server.get(), "bye");
    CHECK(receive(host, c.client.get(), 3) == "bye");
    CHECK(host.ended == 0);
    c.server.reset();
    CHECK(wait_end(host, c.client.get()) == 0);
    host.run_until_ended(1);
    check_single_end(gen, session_end::client_closed);
  }
  SECTION("the server half-closes first") {
    REQUIRE(::shutdown(c.server.get(), SHUT_WR) == 0);
    CHECK(wait_end(host, c.client.get()) == 0);
    send_text(c.client.get(), "late");
    CHECK(receive(host, c.server.get(), 4) == "late");
    CHECK(host.ended == 0);
    c.client.reset();
    CHECK(wait_end(host, c.server.get()) == 0);
    host.run_until_ended(1);
    check_single_end(gen, session_end::server_closed);
  }
}

TEST_CASE_METHOD(one_server_session, "session: a sender's last bytes and its half-close pass on in one segment") {
  // Handshake only so far: no data, so no delayed acknowledgement can arrive meanwhile.
  const auto before = segments_in(c.server.get());
  send_text(c.client.get(), "last words");
  REQUIRE(::shutdown(c.client.get(), SHUT_WR) == 0);
  CHECK(receive(host, c.server.get(), 10) == "last words");
  CHECK(wait_end(host, c.server.get()) == 0);
  CHECK(segments_in(c.server.get()) - before == 1);  // the FIN rode on the data
}

TEST_CASE_METHOD(one_server_session, "session: a slow server makes it stop reading the client until the backlog drains") {

  // More than the socket buffers on the way hold (the client's, the session's upstream send
  // buffer, the server's receive buffer); the test fails if the stream never stalls.
  constexpr std::size_t total = 32 << 20;
  std::size_t written = 0;
  int full_turns = 0;
  host.run_until([&] {
    const auto n = send_pattern(c.client.get(), written, total);
    written += n;
    REQUIRE(written < total);
    full_turns = n == 0 ? full_turns + 1 : 0;
    return full_turns == 5;  // no room for five turns in a row: the session stopped reading
  }, "the client's socket to fill");
  INFO(written << " bytes written before the stream stalled");

  // What the client wrote stays unread while the loop runs: the session holds its backlog and
  // does not read on.
  const int unread = unread_by_peer(c.client.get());
  CHECK(unread > 0);
  host.run_turns(5, 10ms);
  CHECK(unread_by_peer(c.client.get()) == unread);
  CHECK(send_pattern(c.client.get(), written, total) == 0);

  // The server reads: the rest of the stream goes through, every byte in order.
  stream_reader<char (*)(std::size_t)> at_server{pattern_at};
  host.run_until([&] {
    written += send_pattern(c.client.get(), written, total);
    at_server.read_from(c.server.get());
    return at_server.received == total;
  }, "the whole stream to reach the server");
  CHECK(at_server.first_wrong == std::string::npos);
  CHECK(host.ended == 0);

  close_cleanly(host, c);
  check_single_end(gen, session_end::client_closed);
  CHECK(server_at(gen, 0).counters(0).bytes_sent.load() == total);
}

TEST_CASE_METHOD(one_server_session, "session: a bulk stream moves through a pipe, every byte in order, and the pipe goes back when it ends") {
  exchange(host, c);
  constexpr std::size_t total = 4 << 20;
  std::size_t written = 0;
  std::size_t most_in_use = 0;
  stream_reader<char (*)(std::size_t)> at_server{pattern_at};
  host.run_until([&] {
    written += send_pattern(c.client.get(), written, total);
    at_server.read_from(c.server.get());
    most_in_use = std::max(most_in_use, host.pipes().in_use());
    return at_server.received == total;
  }, "the whole stream to reach the server");
  CHECK(at_server.first_wrong == std::string::npos);
  CHECK(most_in_use == 1);  // the client's direction, once its reads filled the scratch buffer

  // Small messages after the bulk: the direction copies again and its pipe is back in the pool.
  send_text(c.client.get(), "ping");
  CHECK(receive(host, c.server.get(), 4) == "ping");
  CHECK(host.pipes().in_use() == 0);
  CHECK(host.account.held() == 0);

  // The half-close after a bulk stream still passes on.
  REQUIRE(::shutdown(c.client.get(), SHUT_WR) == 0);
  CHECK(wait_end(host, c.server.get()) == 0);
  c.server.reset();
  CHECK(wait_end(host, c.client.get()) == 0);
  host.run_until_ended(1);
  check_single_end(gen, session_end::client_closed);
  CHECK(server_at(gen, 0).counters(0).bytes_sent.load() == 5 + total + 4);  // "hello", the stream, "ping"
}

TEST_CASE("session: a refused connect is reported and the next server is tried") {
  fake_host host;
  auto refused = bound_socket();
  auto listener = listening_socket();
  const auto gen = make_generation({port_of(refused.get()), port_of(listener.get())});
  auto c = connect_session(host, gen, listener.get());

  CHECK(host.failures == std::vector<fake_host::connect_failure>{{"s0", down_reason::refused}});
  CHECK(server_at(gen, 0).counters(0).connect_failures.load() == 1);
  CHECK(server_at(gen, 0).counters(0).connections.load() == 0);
  CHECK(server_at(gen, 1).counters(0).connect_failures.load() == 0);
  CHECK(server_at(gen, 1).counters(0).connections.load() == 1);
  CHECK(c.s->server() == &server_at(gen, 1));
  exchange(host, c);

  close_cleanly(host, c);
  check_single_end(gen, session_end::client_closed);
}

TEST_CASE("session: it ends as connect_failed when every connect fails and as no_server when none is eligible") {
  fake_host host;
  unique_fd client;

  SECTION("every server refuses") {
    auto r0 = bound_socket(), r1 = bound_socket();
    const auto gen = make_generation({port_of(r0.get()), port_of(r1.get())});
    start_session(host, gen, client);
    CHECK(wait_end(host, client.get()) == 0);  // a Unix socket has no reset: the client sees EOF
    host.run_until_ended(1);
    CHECK(host.failures == std::vector<fake_host::connect_failure>{{"s0", down_reason::refused},
                                                                   {"s1", down_reason::refused}});
    check_single_end(gen, session_end::connect_failed);
    CHECK(frontend_counters(gen).rejected_no_server.load() == 0);
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(server_at(gen, i).counters(0).connect_failures.load() == 1);
      CHECK(server_at(gen, i).counters(0).connections.load() == 0);
      CHECK(server_at(gen, i).active_sessions() == 0);
    }
  }
  SECTION("retries bound the attempts") {
    auto r0 = bound_socket(), r1 = bound_socket(), r2 = bound_socket();
    const auto gen =
        make_generation({port_of(r0.get()), port_of(r1.get()), port_of(r2.get())},
                        [](cplb::config::config& cfg) { cfg.frontends[0].retries = 1; });
    start_session(host, gen, client);
    host.run_until_ended(1);
    CHECK(host.failures == std::vector<fake_host::connect_failure>{{"s0", down_reason::refused},
                                                                   {"s1", down_reason::refused}});
    CHECK(server_at(gen, 2).counters(0).connect_failures.load() == 0);
    check_single_end(gen, session_end::connect_failed);
  }
  SECTION("every server is down and all_down is reject") {
    auto listener = listening_socket();
    const auto gen = make_generation({port_of(listener.get())}, [](cplb::config::config& cfg) {
      cfg.backends[0].all_down = cplb::config::all_down_policy::reject;
    });
    server_at(gen, 0).set_state(server_state::down, down_reason::refused, "");
    start_session(host, gen, client);
    CHECK(wait_end(host, client.get()) == 0);
    host.run_until_ended(1);
    CHECK(host.failures.empty());
    check_single_end(gen, session_end::no_server);
    CHECK(frontend_counters(gen).rejected_no_server.load() == 1);
    CHECK(server_at(gen, 0).counters(0).connections.load() == 0);
    CHECK(frontend_counters(gen).active.load() == 0);
  }
}

TEST_CASE("session: a connect still pending at connect_timeout fails as timeout and the next server is tried") {
  fake_host host;
  hung_listener hung;
  auto listener = listening_socket();
  const auto gen = make_generation({hung.port(), port_of(listener.get())},
                                   [](cplb::config::config& cfg) {
                                     cfg.frontends[0].connect_timeout = 2s;
                                   });
  connected c;
  c.s = start_session(host, gen, c.client);

  // The SYN to s0 is dropped: nothing happens until the deadline, however long the loop runs.
  host.run_turns(3, 10ms);
  host.advance(2s - 1ms);
  REQUIRE(host.failures.empty());
  REQUIRE(server_at(gen, 0).counters(0).connections.load() == 0);
  CHECK(c.s->server() == &server_at(gen, 0));

  host.advance(1ms);
  CHECK(host.failures == std::vector<fake_host::connect_failure>{{"s0", down_reason::timeout}});
  CHECK(server_at(gen, 0).counters(0).connect_failures.load() == 1);
  accept_connected(host, c, listener.get());
  CHECK(server_at(gen, 1).counters(0).connections.load() == 1);
  exchange(host, c);

  close_cleanly(host, c);
  check_single_end(gen, session_end::client_closed);
}

TEST_CASE("session: idle for idle_timeout it ends; traffic postpones the deadline") {
  fake_host host;
  auto listener = listening_socket();
  const auto gen = make_generation({port_of(listener.get())}, [](cplb::config::config& cfg) {
    cfg.frontends[0].connect_timeout = 1s;
    cfg.frontends[0].idle_timeout = 10s;
  });
  auto c = connect_session(host, gen, listener.get());
  exchange(host, c);

  // Traffic at 9 s moves the deadline from 10 s to 19 s.
  host.advance(9s);
  send_text(c.client.get(), "ping");
  CHECK(receive(host, c.server.get(), 4) == "ping");
  host.advance(2s);
  host.advance(8s - 1ms);
  CHECK(host.ended == 0);
  CHECK(frontend_counters(gen).active.load() == 1);

  host.advance(1ms);
  // Closed, not reset: both peers see EOF.
  CHECK(wait_end(host, c.server.get()) == 0);
  CHECK(wait_end(host, c.client.get()) == 0);
  host.run_until_ended(1);
  check_single_end(gen, session_end::idle_timeout);
}

TEST_CASE_METHOD(one_server_session, "session: close_at ends it as drained at the deadline and not before; traffic does not postpone it") {
  c.s->close_at(host.loop().now() + 5s);

  host.advance(2s);
  exchange(host, c);
  host.advance(3s - 1ms);
  CHECK(host.ended == 0);

  host.advance(1ms);
  CHECK(wait_end(host, c.server.get()) == ECONNRESET);
  CHECK(wait_end(host, c.client.get()) == 0);
  host.run_until_ended(1);
  check_single_end(gen, session_end::drained);
}

TEST_CASE_METHOD(one_server_session, "session: abort resets both legs and counts its reason") {
  exchange(host, c);

  c.s->abort(session_end::shutdown);
  CHECK(wait_end(host, c.server.get()) == ECONNRESET);
  CHECK(wait_end(host, c.client.get()) == 0);  // a Unix socket has no reset: the client sees EOF
  host.run_until([&] { return host.ended == 1; }, "the session to be freed");
  check_single_end(gen, session_end::shutdown);
  check_none_active(gen);
}

TEST_CASE("session: counters follow a session from start to end") {
  fake_host host;
  auto listener = listening_socket();
  const auto gen = make_generation({port_of(listener.get())});
  auto& frontend = frontend_counters(gen);
  auto& server = server_at(gen, 0);
  auto& counters = server.counters(0);
  CHECK(frontend.active.load() == 0);

  auto c = connect_session(host, gen, listener.get());
  CHECK(host.started == 1);
  CHECK(host.ended == 0);
  CHECK(frontend.active.load() == 1);
  CHECK(server.active_sessions() == 1);
  CHECK(counters.connections.load() == 1);

  exchange(host, c);
  // Bytes are published in large chunks or when a direction ends, not per read.
  CHECK(counters.bytes_sent.load() == 0);
  CHECK(counters.bytes_received.load() == 0);

  close_cleanly(host, c);
  CHECK(host.started == 1);
  CHECK(host.ended == 1);
  CHECK(host.live.empty());
  CHECK(frontend.active.load() == 0);
  CHECK(server.active_sessions() == 0);
  CHECK(counters.connections.load() == 1);
  CHECK(counters.connect_failures.load() == 0);
  CHECK(counters.bytes_sent.load() == 5);
  CHECK(counters.bytes_received.load() == 6);
  check_single_end(gen, session_end::client_closed);
}

TEST_CASE_METHOD(one_server_session, "session: rebalance_at passes the server's bytes on then sends a FIN and ends once the client closes") {
  const std::chrono::nanoseconds quiet = 5s;
  exchange(host, c);  // a few bytes from the client: control traffic, not a request
  CHECK_FALSE(c.s->rebalanceable(quiet, host.loop().now()));  // busy since it connected
  host.advance(5s);
  REQUIRE(c.s->rebalanceable(quiet, host.loop().now()));

  c.s->rebalance_at(host.loop().now() + 1s);
  CHECK_FALSE(c.s->rebalanceable(quiet, host.loop().now()));  // chosen once only
  send_text(c.server.get(), "last event");
  CHECK(receive(host, c.client.get(), 10) == "last event");
  host.advance(1s);
  CHECK(wait_end(host, c.client.get()) == 0);  // a FIN, after every byte the server had sent
  CHECK(wait_end(host, c.server.get()) == 0);  // the server's leg is closed too
  CHECK(server_at(gen, 0).active_sessions() == 0);
  CHECK(host.ended == 0);  // it waits for the client to close, so the client sees no reset

  SECTION("the client closes: the session ends as rebalanced") {
    c.client.reset();
    host.run_until_ended(1);
  }
  SECTION("the client does not close: the session ends after a short linger") {
    host.advance(2s);
    host.run_until_ended(1);
  }
  check_single_end(gen, session_end::rebalanced);
  CHECK(server_at(gen, 0).counters(0).rebalanced.load() == 1);
}

TEST_CASE_METHOD(one_server_session, "session: a drain overrides a pending rebalance") {
  c.s->rebalance_at(host.loop().now() + 5s);
  c.s->close_at(host.loop().now() + 1s);
  host.advance(1s);
  CHECK(wait_end(host, c.server.get()) == ECONNRESET);
  host.run_until_ended(1);
  check_single_end(gen, session_end::drained);
}

TEST_CASE_METHOD(first_data_server, "session: with first_data_timeout it connects upstream only once the client speaks") {
  connected c;
  c.s = start_session(host, gen, c.client);
  host.run_turns(5, 1ms);
  CHECK(server_at(gen, 0).active_sessions() == 0);  // no pick, no connect yet
  send_text(c.client.get(), "hello");
  accept_connected(host, c, listener.get());
  CHECK(receive(host, c.server.get(), 5) == "hello");
  close_cleanly(host, c);
  check_single_end(gen, session_end::client_closed);
}

TEST_CASE_METHOD(first_data_server, "session: a client silent for first_data_timeout is closed and costs no upstream connection") {
  unique_fd client;
  start_session(host, gen, client);
  host.advance(10s - 1ms);
  CHECK(host.ended == 0);
  host.advance(1ms);
  CHECK(wait_end(host, client.get()) == 0);
  host.run_until_ended(1);
  check_single_end(gen, session_end::first_data_timeout);
  CHECK(server_at(gen, 0).totals().connections == 0);
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  CHECK(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK) < 0);
}

TEST_CASE_METHOD(first_data_server, "session: a client that leaves before speaking costs no upstream connection") {
  unique_fd client;
  start_session(host, gen, client);
  client.reset();
  host.run_until_ended(1);
  check_single_end(gen, session_end::client_closed);
  CHECK(server_at(gen, 0).totals().connections == 0);
  CHECK(server_at(gen, 0).active_sessions() == 0);
}

TEST_CASE("session: a client that reads slowly costs at most a small backlog however fast its server sends") {
  fake_host host(256 * 1024);  // the worker's scratch size
  auto listener = listening_socket();
  const auto gen = make_generation({port_of(listener.get())});
  auto c = connect_session(host, gen, listener.get());
  // The server sends 8 MiB as fast as it can; the client reads nothing.
  const std::string chunk(64 * 1024, 'x');
  std::size_t sent = 0;
  for (int turn = 0; turn < 2000 && sent < 8u << 20; ++turn) {
    const auto n = ::send(c.server.get(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<std::size_t>(n);
    host.run_turns(1, 1ms);
    CHECK(host.account.held() <= 64 * 1024);
  }
  CHECK(sent < 8u << 20);  // the stream stalled: the session stopped reading the server
  // Then the client catches up and every byte arrives.
  std::vector<char> buffer(256 * 1024);
  std::size_t got = 0;
  for (int turn = 0; turn < 100000 && got < sent; ++turn) {
    const auto n = ::recv(c.client.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n > 0) got += static_cast<std::size_t>(n);
    host.run_turns(1, 0ms);
  }
  CHECK(got == sent);
  CHECK(host.account.held() == 0);
}

TEST_CASE("session: over max_buffer_memory a direction reads only while its other leg keeps up") {
  fake_host host(256 * 1024);
  host.account.set_cap(1);  // anything held is over the cap
  auto listener = listening_socket();
  const auto gen = make_generation({port_of(listener.get())});
  auto c = connect_session(host, gen, listener.get());
  host.account.hold(1);  // as if another session held a backlog
  // The server reads: a request still passes, since what is read leaves at once and holds nothing.
  send_text(c.client.get(), "passes");
  CHECK(receive(host, c.server.get(), 6) == "passes");

  // The server stops reading: once its leg has bytes unsent, the session stops reading the
  // client, with at most one small read held.
  const std::string big(64 << 20, 'x');
  std::size_t pushed = 0;
  for (int i = 0; i < 300; ++i) {
    const auto n = ::send(c.client.get(), big.data() + pushed, big.size() - pushed, MSG_DONTWAIT);
    if (n > 0) pushed += static_cast<std::size_t>(n);
    host.run_turns(1, 1ms);
  }
  CHECK(pushed < big.size());  // the rest waits in the client's socket: nothing was dropped
  CHECK(host.account.held() <= 1 + 16 * 1024);
  host.account.release(1);
  host.advance(10ms);  // the stalled session looks again
  CHECK(receive(host, c.server.get(), pushed) == big.substr(0, pushed));
}

// Binary upgrade: hand_over and resume.

namespace {

/// The byte at `offset` of the server's stream in the hand-over tests: another prime period,
/// and a bijection on it, so that one byte tells where in the stream a run starts.
char reply_at(std::size_t offset) { return static_cast<char>((offset % 241) * 13 % 241); }

/// Where `run` starts in `pattern`'s stream, found among the first `period` offsets: npos when
/// it is no run of the stream.
template <typename Pattern>
std::size_t run_offset(const std::string& run, Pattern pattern, std::size_t period) {
  for (std::size_t start = 0; start < period; ++start) {
    bool all = true;
    for (std::size_t i = 0; i < run.size() && all; ++i) all = run[i] == pattern(start + i);
    if (all) return start;
  }
  return std::string::npos;
}

/// Bytes waiting to be read on `fd`.
std::size_t unread_on(int fd) {
  int queued = -1;
  REQUIRE(::ioctl(fd, FIONREAD, &queued) == 0);
  return static_cast<std::size_t>(queued);
}

/// True when `fd` is an open descriptor.
bool is_open(int fd) { return fd >= 0 && ::fcntl(fd, F_GETFD) != -1; }

/// A session on `host` for the handed-over `h`, resumed with `server` (index `index`).
session* resume_session(fake_host& host, const cplb::generation::snapshot_ptr& gen,
                        cplb::proxy::handed_session& h, cplb::backend::server_ptr server, int index) {
  auto* s = new session(host, std::exchange(h.client_fd, -1), gen, gen->frontends[0], h.client_key);
  s->resume(h, std::move(server), index);
  return s;
}

/// A session on `host` for the handed-over `h`, resumed with its server, s0.
session* resume_session(fake_host& host, const cplb::generation::snapshot_ptr& gen,
                        cplb::proxy::handed_session& h) {
  return resume_session(host, gen, h, gen->frontends[0].backend->servers()[0], 0);
}

/// Hands `c`'s session over, which must succeed: the session is freed after this turn.
cplb::proxy::handed_session hand_over(connected& c) {
  cplb::proxy::handed_session h;
  REQUIRE(c.s->hand_over(h));
  c.s = nullptr;
  return h;
}

}  // namespace

TEST_CASE_METHOD(one_server_session, "session: hand_over takes a pumping session with a backlog each way; resumed elsewhere, every byte arrives in order") {
  exchange(host, c);

  // Neither peer reads: both streams stall, and the session holds a backlog each way.
  constexpr std::size_t limit = 64 << 20;
  std::size_t up_written = 0, down_written = 0;
  int full_turns = 0;
  host.run_until([&] {
    const auto up = send_stream(c.client.get(), up_written, limit, pattern_at);
    const auto down = send_stream(c.server.get(), down_written, limit, reply_at);
    up_written += up;
    down_written += down;
    REQUIRE(up_written < limit);
    REQUIRE(down_written < limit);
    full_turns = up == 0 && down == 0 ? full_turns + 1 : 0;
    return full_turns == 5;
  }, "both streams to stall");
  INFO(up_written << " bytes up and " << down_written << " down before the streams stalled");
  REQUIRE(host.account.held() > 0);

  auto h = hand_over(c);
  CHECK(h.client_fd >= 0);
  CHECK(h.upstream_fd >= 0);
  CHECK(h.frontend == "fe");
  CHECK(h.server == "s0");
  CHECK(h.server_address == server_at(gen, 0).address().to_string());
  CHECK_FALSE(h.client_done);
  CHECK_FALSE(h.server_done);
  CHECK_FALSE(h.client_finished_first);
  CHECK_FALSE(h.connecting);
  CHECK_FALSE(h.awaiting_first_bytes);
  CHECK(h.close_in_ns == -1);
  CHECK(h.age_ns >= 0);
  CHECK(h.idle_ns >= 0);
  // The backlogs: the last bytes the session read each way, in order.
  REQUIRE_FALSE(h.to_server.empty());
  REQUIRE_FALSE(h.to_client.empty());
  // What the session has not read of the client's stream waits on the handed descriptor.
  const auto unread_from_client = unread_on(h.client_fd);
  CHECK(unread_from_client > 0);
  const std::size_t to_server_at = up_written - unread_from_client - h.to_server.size();
  CHECK(run_offset(h.to_server, [&](std::size_t i) { return pattern_at(to_server_at + i); }, 1) == 0);
  CHECK(run_offset(h.to_client, reply_at, 241) != std::string::npos);

  // The old host let go: no end counted, no slot or memory held, the descriptors left open.
  check_no_end(gen);
  CHECK(host.live.empty());
  check_none_active(gen);
  CHECK(host.account.held() == 0);
  host.run_turns(3, 1ms);
  CHECK(is_open(h.client_fd));
  CHECK(is_open(h.upstream_fd));
  CHECK(unread_on(h.client_fd) == unread_from_client);  // nobody reads it now

  // Resumed on another worker (its own loop and clock) with its server found.
  fake_host next;
  next.advance(1h);
  c.s = resume_session(next, gen, h);
  CHECK(h.upstream_fd == -1);  // taken
  CHECK(c.s->server() == &server_at(gen, 0));
  CHECK(server_at(gen, 0).active_sessions() == 1);
  CHECK(frontend_counters(gen).active.load() == 1);
  CHECK(next.account.held() <= static_cast<std::int64_t>(h.to_server.size() + h.to_client.size()));  // the backlogs, as they go

  stream_reader<char (*)(std::size_t)> at_server{pattern_at}, at_client{reply_at};
  next.run_until([&] {
    at_server.read_from(c.server.get());
    at_client.read_from(c.client.get());
    return at_server.received == up_written && at_client.received == down_written;
  }, "both streams to arrive whole");
  CHECK(at_server.first_wrong == std::string::npos);
  CHECK(at_client.first_wrong == std::string::npos);
  CHECK(next.account.held() == 0);
  check_no_end(gen);

  exchange(next, c);
  close_cleanly(next, c);
  check_single_end(gen, session_end::client_closed);
  check_none_active(gen);
  // Each byte counted once, by whichever host read it.
  CHECK(server_at(gen, 0).counters(0).bytes_sent.load() == 5 + up_written + 5);
  CHECK(server_at(gen, 0).counters(0).bytes_received.load() == 6 + down_written + 6);
}

TEST_CASE_METHOD(one_server_session, "session: hand_over refuses a session that is leaving to rebalance or closing") {
  exchange(host, c);
  cplb::proxy::handed_session h;

  SECTION("leaving to rebalance") {
    host.advance(5s);
    c.s->rebalance_at(host.loop().now() + 1s);
    host.advance(1s);
    CHECK(wait_end(host, c.client.get()) == 0);  // the FIN: it is leaving
    CHECK_FALSE(c.s->hand_over(h));
    CHECK(h.client_fd == -1);
    CHECK(h.upstream_fd == -1);
    CHECK(host.live.size() == 1);  // it stays, and ends as it would have
    c.client.reset();
    host.run_until_ended(1);
    check_single_end(gen, session_end::rebalanced);
  }
  SECTION("closing, in the turn it ended") {
    c.s->abort(session_end::shutdown);
    CHECK_FALSE(c.s->hand_over(h));  // not freed before the turn is over
    CHECK(h.client_fd == -1);
    CHECK(host.ended == 1);
    CHECK(wait_end(host, c.server.get()) == ECONNRESET);
    check_single_end(gen, session_end::shutdown);
  }
  check_none_active(gen);
}

TEST_CASE("session: resumed without its server it pumps on, and is drained after the drain grace") {
  fake_host host;
  auto listener = listening_socket();
  const auto gen = make_generation({port_of(listener.get())}, [](cplb::config::config& cfg) {
    cfg.backends[0].drain.grace = 20s;
  });
  auto c = connect_session(host, gen, listener.get());
  exchange(host, c);
  auto h = hand_over(c);
  host.run_turns(1, 0ms);

  // As when the new config has no server of that name and address.
  c.s = resume_session(host, gen, h, nullptr, -1);
  CHECK(c.s->server() == nullptr);
  CHECK(server_at(gen, 0).active_sessions() == 0);
  exchange(host, c);
  host.advance(20s - 1ms);
  CHECK(host.ended == 1);  // the hand-over only
  exchange(host, c);  // traffic does not postpone a drain
  host.advance(1ms);
  CHECK(wait_end(host, c.server.get()) == ECONNRESET);
  CHECK(wait_end(host, c.client.get()) == 0);
  host.run_until_ended(2);  // the hand-over, then this
  check_single_end(gen, session_end::drained);
  check_none_active(gen);
}

TEST_CASE_METHOD(one_server_session, "session: a pending drain survives the hand-over, counted from the old deadline") {
  c.s->close_at(host.loop().now() + 10s);
  host.advance(4s);
  auto h = hand_over(c);
  CHECK(h.close_in_ns == std::chrono::nanoseconds(6s).count());

  fake_host next;
  c.s = resume_session(next, gen, h);
  exchange(next, c);
  next.advance(6s - 1ms);
  CHECK(next.ended == 0);
  next.advance(1ms);
  CHECK(wait_end(next, c.server.get()) == ECONNRESET);
  next.run_until_ended(1);
  check_single_end(gen, session_end::drained);
}

TEST_CASE_METHOD(first_data_server, "session: handed over while awaiting its first bytes, it resumes awaiting them, with the same deadline") {
  connected c;
  c.s = start_session(host, gen, c.client);
  host.advance(4s);
  auto h = hand_over(c);
  CHECK(h.awaiting_first_bytes);
  CHECK(h.upstream_fd == -1);
  CHECK(h.server.empty());
  CHECK(h.age_ns == std::chrono::nanoseconds(4s).count());
  host.run_turns(1, 0ms);

  fake_host next;
  next.advance(1h);  // another clock: only the session's age carries over
  c.s = resume_session(next, gen, h, nullptr, -1);
  next.run_turns(3, 1ms);
  CHECK(server_at(gen, 0).active_sessions() == 0);  // still no pick, no connect

  SECTION("silent: it ends at first_data_timeout from its original start") {
    next.advance(6s - 1ms);
    CHECK(next.ended == 0);
    next.advance(1ms);
    CHECK(wait_end(next, c.client.get()) == 0);
    next.run_until_ended(1);
    check_single_end(gen, session_end::first_data_timeout);
    CHECK(server_at(gen, 0).totals().connections == 0);
    CHECK(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK) < 0);
  }
  SECTION("it speaks: it connects upstream then") {
    next.advance(5s);
    send_text(c.client.get(), "hello");
    accept_connected(next, c, listener.get());
    CHECK(receive(next, c.server.get(), 5) == "hello");
    next.advance(2s);  // past the old first-data deadline: it no longer applies
    exchange(next, c);
    close_cleanly(next, c);
    check_single_end(gen, session_end::client_closed);
  }
}

TEST_CASE_METHOD(one_server_session, "session: a client's bytes sent during the hand-over wait on the descriptor and pass on once resumed") {
  exchange(host, c);
  auto h = hand_over(c);
  host.run_turns(1, 0ms);
  send_text(c.client.get(), "during");
  send_text(c.server.get(), "upgrade");
  host.run_turns(3, 1ms);  // the old loop no longer watches them

  fake_host next;
  c.s = resume_session(next, gen, h);
  CHECK(receive(next, c.server.get(), 6) == "during");
  CHECK(receive(next, c.client.get(), 7) == "upgrade");
  close_cleanly(next, c);
  check_single_end(gen, session_end::client_closed);
}

TEST_CASE_METHOD(one_server_session, "session: a half-closed session resumes half-closed and ends once the server closes too") {
  exchange(host, c);
  REQUIRE(::shutdown(c.client.get(), SHUT_WR) == 0);
  CHECK(wait_end(host, c.server.get()) == 0);
  auto h = hand_over(c);
  CHECK(h.client_done);
  CHECK(h.client_finished_first);
  CHECK_FALSE(h.server_done);

  fake_host next;
  c.s = resume_session(next, gen, h);
  send_text(c.server.get(), "bye");
  CHECK(receive(next, c.client.get(), 3) == "bye");
  next.run_turns(3, 1ms);
  CHECK(next.ended == 0);
  c.server.reset();
  CHECK(wait_end(next, c.client.get()) == 0);
  next.run_until_ended(1);
  check_single_end(gen, session_end::client_closed);
}
