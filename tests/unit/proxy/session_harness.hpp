#pragma once
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cplb/backend/backend.hpp"
#include "cplb/config/config.hpp"
#include "cplb/core/clock.hpp"
#include "cplb/generation/generation.hpp"
#include "event_loop.hpp"
#include "session.hpp"
#include "session_host.hpp"
#include "../unique_fd.hpp"

// What the session tests run a session with: a host over a loop on a fake clock, a generation
// whose servers are loopback sockets of the test, and the client's end of a socketpair.
namespace cplb::proxy::test {

using namespace std::chrono_literals;
using generation::session_end;

using cplb::test::unique_fd;

/// 127.0.0.1:`port`.
inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

/// The port `fd` is bound to.
inline std::uint16_t port_of(int fd) {
  sockaddr_in address{};
  socklen_t size = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0);
  return ntohs(address.sin_port);
}

/// A non-blocking TCP socket bound to 127.0.0.1 on a port the kernel chose. Without `listen`
/// the port is only held: a connect to it is refused.
inline unique_fd bound_socket() {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  REQUIRE(fd.get() >= 0);
  const auto address = loopback(0);
  REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

/// A non-blocking TCP listener on 127.0.0.1, standing in for an apiserver.
inline unique_fd listening_socket(int backlog = SOMAXCONN) {
  auto fd = bound_socket();
  REQUIRE(::listen(fd.get(), backlog) == 0);
  return fd;
}

/// A listener that takes no connection: its accept queue (backlog 0) holds one that is never
/// accepted, so the kernel drops every further SYN and a connect to it hangs.
struct hung_listener {
  unique_fd listener = listening_socket(0);
  unique_fd filler;

  hung_listener() {
    const auto address = loopback(port());
    filler.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    REQUIRE(filler.get() >= 0);
    const int r =
        ::connect(filler.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
    REQUIRE((r == 0 || errno == EINPROGRESS));
    // Completes at once on loopback; the bound only keeps a broken setup from hanging.
    pollfd p{filler.get(), POLLOUT, 0};
    REQUIRE(::poll(&p, 1, 2000) == 1);
    int error = -1;
    socklen_t size = sizeof error;
    REQUIRE(::getsockopt(filler.get(), SOL_SOCKET, SO_ERROR, &error, &size) == 0);
    REQUIRE(error == 0);
  }
  std::uint16_t port() const { return port_of(listener.get()); }
};

/// A generation for one worker: frontend `fe` on backend `be`, whose servers `s0`, `s1`, ... are
/// 127.0.0.1 on `ports`, all up. Sessions connect upstream at once (first_data_timeout off).
/// `tune` may change the config first.
inline generation::snapshot_ptr make_generation(
    const std::vector<std::uint16_t>& ports,
    const std::function<void(config::config&)>& tune = {}) {
  config::config cfg;
  config::backend_config be;
  be.name = "be";
  for (std::size_t i = 0; i < ports.size(); ++i) {
    config::server_config s;
    s.name = "s" + std::to_string(i);
    s.address = *socket_address::from_ip("127.0.0.1", ports[i]);
    s.host = "127.0.0.1";
    be.servers.push_back(s);
  }
  config::frontend_config fe;
  fe.name = "fe";
  fe.backend = "be";
  fe.first_data_timeout = std::chrono::seconds(0);
  cfg.backends = {be};
  cfg.frontends = {fe};
  if (tune) tune(cfg);
  auto backends = backend::backend_set::build(cfg, nullptr, 1);
  for (const auto& s : backends->find("be")->servers())
    s->set_state(backend::server_state::up, backend::down_reason::none, "");
  return generation::snapshot::build(cfg, backends, nullptr, 1);
}

/// Server `i` of the generation's backend.
inline backend::server& server_at(const generation::snapshot_ptr& gen, std::size_t i) {
  return *gen->frontends[0].backend->servers()[i];
}

/// The frontend's counters (the only worker's slot).
inline generation::frontend_worker_counters& frontend_counters(
    const generation::snapshot_ptr& gen) {
  return gen->frontends[0].stats->worker(0);
}

/// Checks the session ends counted: one under `why`, none under any other reason (none at all
/// without `why`).
inline void check_ends(const generation::snapshot_ptr& gen, std::optional<session_end> why) {
  const auto& ends = frontend_counters(gen).ends;
  for (const auto reason : generation::all_session_ends) {
    INFO("ends[" << generation::to_string(reason) << "]");
    CHECK(ends[static_cast<std::size_t>(reason)].load() == (reason == why ? 1u : 0u));
  }
}

/// Checks that exactly one session end was counted, under `why`.
inline void check_single_end(const generation::snapshot_ptr& gen, session_end why) {
  check_ends(gen, why);
}

/// Checks that no session end was counted at all.
inline void check_no_end(const generation::snapshot_ptr& gen) { check_ends(gen, std::nullopt); }

/// Checks that the generation has no session active, on the frontend or on server 0.
inline void check_none_active(const generation::snapshot_ptr& gen) {
  CHECK(server_at(gen, 0).active_sessions() == 0);
  CHECK(frontend_counters(gen).active.load() == 0);
}

/// A session_host over a loop of its own on a fake clock. It picks the lowest eligible server
/// (counting the session on it, as backend::pick does for the worker) and records what the
/// session tells it.
class fake_host final : public session_host {
 public:
  struct connect_failure {
    std::string server;
    backend::down_reason why;
    friend bool operator==(const connect_failure&, const connect_failure&) = default;
  };

  cplb::fake_clock clock;
  std::vector<connect_failure> failures;
  std::vector<session*> live;  ///< started, not yet freed
  int started = 0;
  int ended = 0;

  buffer_account account;

  /// A host whose scratch buffer is `scratch_size` bytes (4 KiB: a few kilobytes already take
  /// more than one read).
  explicit fake_host(std::size_t scratch_size = 4096) : scratch_(scratch_size) {}
  fake_host(const fake_host&) = delete;
  fake_host& operator=(const fake_host&) = delete;
  ~fake_host() {
    // A failed test may leave sessions open: end them, so no descriptor or memory outlives it.
    for (auto* s : std::vector(live)) s->abort(session_end::shutdown);
    loop_.run_once(0ms);
  }

  event_loop& loop() override { return loop_; }
  unsigned slot() const override { return 0; }
  buffer_account& buffers() override { return account; }
  pipe_budget& pipes() override { return pipes_; }
  std::span<char> scratch() override { return scratch_; }
  int pick(const backend::backend& b, backend::server_mask eligible, std::uint64_t) override {
    if (eligible == 0) return -1;
    const int i = std::countr_zero(eligible);
    b.servers()[static_cast<std::size_t>(i)]->session_opened();
    return i;
  }
  void connect_failed(const backend::server_ptr& server, backend::down_reason why) override {
    failures.push_back({server->name(), why});
  }
  void session_started(session& s) override {
    live.push_back(&s);
    ++started;
  }
  void session_ended(session& s) override {
    std::erase(live, &s);
    ++ended;
  }

  /// Runs turns until `done` (called before each) holds; fails the test after 10 s or 100000
  /// turns. A turn waits at most 10 ms: long enough not to spin, short enough for what
  /// happens outside the loop (a peer of the test) to be seen soon.
  template <typename Done>
  void run_until(Done done, const char* what) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    for (int turn = 0;; ++turn) {
      if (done()) return;
      if (turn == 100000 || std::chrono::steady_clock::now() > give_up)
        FAIL("gave up waiting for " << what);
      loop_.run_once(10ms);
    }
  }
  /// Runs turns until `n` sessions in all have ended.
  void run_until_ended(int n) {
    run_until([&] { return ended == n; }, "the session to end");
  }
  /// Runs `n` turns, each waiting at most `wait` for events.
  void run_turns(int n, std::chrono::milliseconds wait) {
    for (int i = 0; i < n; ++i) loop_.run_once(wait);
  }
  /// Moves the fake clock on and runs a turn, so that what was due by then has fired.
  void advance(std::chrono::steady_clock::duration d) {
    clock.advance(d);
    loop_.run_once(0ms);
  }

 private:
  std::vector<char> scratch_;
  pipe_budget pipes_{4096, 4};  // one page each: a few kilobytes already fill one
  event_loop loop_{&clock};  // last: sessions it still holds may call back when it is destroyed
};

/// Hands one end of a fresh socketpair to a new session on `host` and starts it; the other end,
/// the client's, goes to `client`. The session may have ended when this returns.
inline session* start_session(fake_host& host, const generation::snapshot_ptr& gen,
                              unique_fd& client) {
  int fd[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) == 0);
  client.reset(fd[1]);
  auto* s = new session(host, fd[0], gen, gen->frontends[0], 0);  // owns itself from here
  s->start();
  return s;
}

/// The session's upstream connection, accepted on `listener`.
inline unique_fd accept_upstream(fake_host& host, int listener) {
  unique_fd fd;
  host.run_until([&] {
    fd.reset(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    return fd.get() >= 0;
  }, "the upstream connection");
  return fd;
}

/// Sends all of `text` at once (it fits any socket buffer).
inline void send_text(int fd, std::string_view text) {
  const auto sent = ::send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  REQUIRE(sent == static_cast<ssize_t>(text.size()));
}

/// Receives exactly `size` bytes from `fd`, running the loop meanwhile.
inline std::string receive(fake_host& host, int fd, std::size_t size) {
  std::string got;
  host.run_until([&] {
    char buffer[4096];
    const auto n = ::recv(fd, buffer, std::min(sizeof buffer, size - got.size()), MSG_DONTWAIT);
    if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
    if (n == 0 || (n < 0 && errno != EAGAIN))
      FAIL("the connection ended after " << got.size() << " bytes");
    return got.size() == size;
  }, "bytes to arrive");
  return got;
}

/// Waits until `fd` reports the end of its stream: 0 for EOF, or the errno (ECONNRESET).
/// Bytes arriving first fail the test.
inline int wait_end(fake_host& host, int fd) {
  int result = -1;
  host.run_until([&] {
    char c;
    const auto n = ::recv(fd, &c, 1, MSG_DONTWAIT);
    if (n > 0) FAIL("unexpected bytes before the end of the stream");
    if (n < 0 && errno == EAGAIN) return false;
    result = n == 0 ? 0 : errno;
    return true;
  }, "the end of the stream");
  return result;
}

}  // namespace cplb::proxy::test
