// What a correct sockmap data path would build on, tried on this kernel (bench/README.md, "What a
// sockmap path would build on"). Each experiment makes a session of its own on
// 127.0.0.1: client -> front (the relay's client leg) and up (its upstream leg) -> server, all
// four sockets in this one thread, and puts front and up in credit.bpf.c's sockhash:
//
//   semantics credit.bpf.o tcp_sock.bpf.o
//
// It prints one line per finding. Needs root (CAP_BPF, CAP_NET_ADMIN).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "credit.h"

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "semantics: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

/// A leg's state as a new session starts: no peer yet, redirecting without a bound.
leg_state fresh_leg() { return leg_state{0, 0, ~std::uint64_t{0}, 0, 0}; }

int socks_map = -1, legs_map = -1;
std::uint32_t next_key = 1;

std::uint64_t now_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

/// The byte of the test stream at `offset`.
char pattern(std::uint64_t offset) { return static_cast<char>(offset % 251); }

struct session {
  int client = -1, front = -1, up = -1, server = -1;
  std::uint32_t front_key = 0, up_key = 0;
  std::uint64_t up_written_at_insert = 0;
  std::uint64_t sent = 0;      // stream bytes the client wrote
  std::uint64_t received = 0;  // stream bytes the server read, all checked
  bool server_eof = false, disorder = false;
  ~session() {
    for (int fd : {client, front, up, server}) ::close(fd);
  }
};

/// A connected pair on 127.0.0.1, both ends non-blocking: {connecting end, accepted end}.
std::pair<int, int> tcp_pair() {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    die("listen");
  const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd ready{l, POLLIN, 0};
  if (::poll(&ready, 1, 1000) != 1) die("connect to the listener: no connection within 1 s");
  const int s = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
  if (s < 0) die("accept");
  ::close(l);
  pollfd p{c, POLLOUT, 0};
  ::poll(&p, 1, 1000);
  return {c, s};
}

std::uint64_t cookie_of(int fd) {
  std::uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) die("SO_COOKIE");
  return cookie;
}

/// Bytes ever written into `fd`'s send queue: acknowledged ones plus those still queued.
std::uint64_t written(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  int queued = 0;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || ::ioctl(fd, SIOCOUTQ, &queued) != 0)
    die("TCP_INFO");
  return info.tcpi_bytes_acked + static_cast<std::uint64_t>(queued);
}

void set_leg(int fd, const leg_state& s) {
  const std::uint64_t cookie = cookie_of(fd);
  if (bpf_map_update_elem(legs_map, &cookie, &s, BPF_ANY) != 0) die("legs update");
}

leg_state leg_of(int fd) {
  const std::uint64_t cookie = cookie_of(fd);
  leg_state s{};
  if (bpf_map_lookup_elem(legs_map, &cookie, &s) != 0) die("legs lookup");
  return s;
}

/// Opens the session's four sockets.
void open_session(session& s) {
  std::tie(s.client, s.front) = tcp_pair();
  std::tie(s.up, s.server) = tcp_pair();
}

/// Puts front and up in the sockhash, each redirecting to the other, front within `credit`
/// (and passing from the start with `front_pass`).
void insert(session& s, std::uint64_t credit = ~std::uint64_t{0}, bool front_pass = false) {
  s.front_key = next_key++;
  s.up_key = next_key++;
  leg_state f = fresh_leg();
  f.peer = s.up_key;
  f.credit = credit;
  f.pass = front_pass;
  set_leg(s.front, f);
  leg_state u = fresh_leg();
  u.peer = s.front_key;
  set_leg(s.up, u);
  s.up_written_at_insert = written(s.up);
  const std::uint64_t up_fd = static_cast<std::uint64_t>(s.up), front_fd = static_cast<std::uint64_t>(s.front);
  if (bpf_map_update_elem(socks_map, &s.up_key, &up_fd, BPF_ANY) != 0 ||
      bpf_map_update_elem(socks_map, &s.front_key, &front_fd, BPF_ANY) != 0)
    die("sockhash update");
}

/// Writes the stream from the client while its socket takes it, up to `limit`: the count.
std::uint64_t client_write(session& s, std::uint64_t limit) {
  static char chunk[65536];
  std::uint64_t total = 0;
  while (s.sent < limit) {
    const std::size_t n = std::min<std::uint64_t>(sizeof chunk, limit - s.sent);
    for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern(s.sent + i);
    const ssize_t w = ::send(s.client, chunk, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0) break;
    s.sent += static_cast<std::uint64_t>(w);
    total += static_cast<std::uint64_t>(w);
  }
  return total;
}

/// Writes from the client until nothing more goes in for 300 ms (or `limit`): the bytes taken.
std::uint64_t fill_until_stuck(session& s, std::uint64_t limit) {
  std::uint64_t last_progress = now_ms();
  while (s.sent < limit && now_ms() - last_progress < 300) {
    if (client_write(s, limit) > 0) last_progress = now_ms();
    pollfd p{s.client, POLLOUT, 0};
    ::poll(&p, 1, 20);
  }
  return s.sent;
}

/// Reads what `fd` has, checking it against the stream from `offset`: the count; `eof` at the end.
std::uint64_t read_stream(int fd, std::uint64_t offset, bool& eof, bool& disorder) {
  static char buf[65536];
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) eof = true;
    if (n <= 0) return total;
    for (ssize_t i = 0; i < n; ++i)
      if (buf[i] != pattern(offset + total + static_cast<std::uint64_t>(i))) disorder = true;
    total += static_cast<std::uint64_t>(n);
  }
}

void server_read(session& s) { s.received += read_stream(s.server, s.received, s.server_eof, s.disorder); }

/// Reads the server side for `ms`, or until its end of stream.
void server_read_for(session& s, int ms) {
  const std::uint64_t until = now_ms() + static_cast<std::uint64_t>(ms);
  while (!s.server_eof && now_ms() < until) {
    pollfd p{s.server, POLLIN, 0};
    ::poll(&p, 1, 10);
    server_read(s);
  }
}

void sleep_ms(int ms) { ::poll(nullptr, 0, ms); }


constexpr std::uint64_t mib = 1 << 20;
constexpr std::uint64_t fill_limit = 256 * mib;  // "unbounded" past this: the machine's memory is at stake

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

/// An edge-triggered epoll set over `fd`.
int watch(int fd) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  if (ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll");
  return ep;
}

std::uint32_t wait_events(int ep, int ms) {
  epoll_event ev{};
  return ::epoll_wait(ep, &ev, 1, ms) == 1 ? ev.events : 0;
}

std::string events_text(std::uint32_t e) {
  if (e == 0) return "none";
  std::string t;
  if (e & EPOLLIN) t += "IN ";
  if (e & EPOLLRDHUP) t += "RDHUP ";
  if (e & EPOLLHUP) t += "HUP ";
  if (e & EPOLLERR) t += "ERR ";
  t.pop_back();
  return t;
}

// --- the experiments ------------------------------------------------------------------------

void queued_before_insertion() {
  session s;
  open_session(s);
  client_write(s, 1000);
  sleep_ms(50);
  insert(s);
  client_write(s, 2000);
  server_read_for(s, 200);
  bool eof = false, disorder = false;
  const std::uint64_t at_front = read_stream(s.front, 0, eof, disorder);
  std::printf("queued before insertion: 1000 bytes queued on the front before it joins the sockhash, 1000 after: "
              "the server got %llu, the program redirected %llu, user space reads %llu from the front%s\n",
              ull(s.received), ull(leg_of(s.front).redirected), ull(at_front),
              disorder || s.disorder ? " (out of order)" : " (in order)");
}

void passed_bytes_readable() {
  session s;
  open_session(s);
  insert(s, ~std::uint64_t{0}, true);
  const int ep = watch(s.front);
  client_write(s, 1000);
  const auto first = wait_events(ep, 500);
  int available = -1;
  ::ioctl(s.front, FIONREAD, &available);
  bool eof = false, disorder = false;
  const std::uint64_t got = read_stream(s.front, 0, eof, disorder);
  ::shutdown(s.client, SHUT_WR);
  const auto second = wait_events(ep, 500);
  read_stream(s.front, got, eof, disorder);
  std::printf("passed bytes: epoll reports %s, FIONREAD says %d, recv reads %llu of 1000%s; after the client's FIN "
              "epoll reports %s and recv %s\n",
              events_text(first).c_str(), available, ull(got), disorder ? " (out of order)" : "",
              events_text(second).c_str(), eof ? "returns 0" : "does not return 0");
  ::close(ep);
}

void passed_bytes_flow_control() {
  session plain;
  open_session(plain);
  const std::uint64_t without = fill_until_stuck(plain, fill_limit);
  session s;
  open_session(s);
  insert(s, ~std::uint64_t{0}, true);
  const std::uint64_t with = fill_until_stuck(s, fill_limit);
  std::printf("flow control of passed bytes: a client whose relay reads nothing writes %.1f MiB before it blocks "
              "(outside the sockhash: %.1f MiB)%s\n",
              static_cast<double>(with) / mib, static_cast<double>(without) / mib,
              with >= fill_limit ? ", stopped at the limit: unbounded" : "");
}

void credit_bounds_then_hands_back() {
  session s;
  open_session(s);
  insert(s, mib);
  const std::uint64_t taken = fill_until_stuck(s, fill_limit);  // the server reads nothing yet
  const leg_state at_stall = leg_of(s.front);
  std::printf("credit of 1 MiB, the server reading nothing: the client writes %.1f MiB before it blocks; the program "
              "redirected %.2f MiB, then passed %.2f MiB (pass=%u)\n",
              static_cast<double>(taken) / mib, static_cast<double>(at_stall.redirected) / mib,
              static_cast<double>(at_stall.passed) / mib, at_stall.pass);
  // Hand back to user space in order: the server reads; only once the up leg has taken every
  // redirected byte does the relay send what it reads from the front.
  const std::uint64_t start = now_ms();
  while (written(s.up) - s.up_written_at_insert < leg_of(s.front).redirected && now_ms() - start < 5000) {
    server_read(s);
    sleep_ms(1);
  }
  const std::uint64_t drained_ms = now_ms() - start;
  ::shutdown(s.client, SHUT_WR);
  static char buf[65536];
  std::vector<char> pending;
  bool front_eof = false;
  while (!front_eof && now_ms() - start < 10000) {
    const ssize_t n = ::recv(s.front, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) front_eof = true;
    if (n > 0) pending.insert(pending.end(), buf, buf + n);
    while (!pending.empty()) {
      const ssize_t w = ::send(s.up, pending.data(), pending.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w <= 0) break;
      pending.erase(pending.begin(), pending.begin() + w);
    }
    server_read(s);
    if (n < 0) sleep_ms(1);
  }
  while (!pending.empty() && now_ms() - start < 10000) {
    const ssize_t w = ::send(s.up, pending.data(), pending.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) pending.erase(pending.begin(), pending.begin() + w);
    server_read(s);
    sleep_ms(1);
  }
  ::shutdown(s.up, SHUT_WR);
  server_read_for(s, 3000);
  std::printf("  handed back: the up leg had taken every redirected byte %llu ms after the server began to read; "
              "then user space relayed the rest: the server got %.2f of %.2f MiB%s%s\n",
              ull(drained_ms), static_cast<double>(s.received) / mib, static_cast<double>(s.sent) / mib,
              s.disorder ? ", out of order" : ", in order", s.server_eof ? ", then its end of stream" : ", no end of stream");
}

void end_of_stream(bool wait_for_drain) {
  session s;
  open_session(s);
  insert(s);
  const int ep = watch(s.front);
  const std::uint64_t total = 32 * mib;
  const std::uint64_t start = now_ms();
  while (s.sent < total && now_ms() - start < 10000) {
    client_write(s, total);
    server_read(s);
    sleep_ms(0);
  }
  ::shutdown(s.client, SHUT_WR);
  std::uint32_t events = 0;
  while (!(events & EPOLLRDHUP) && now_ms() - start < 12000) {
    events |= wait_events(ep, 1);
    server_read(s);
  }
  std::uint64_t waited = 0;
  if (wait_for_drain) {
    const std::uint64_t from = now_ms();
    const std::uint64_t redirected = leg_of(s.front).redirected;
    while (written(s.up) - s.up_written_at_insert < redirected && now_ms() - from < 5000) {
      server_read(s);
      sleep_ms(1);
    }
    waited = now_ms() - from;
  }
  ::shutdown(s.up, SHUT_WR);
  server_read_for(s, 3000);
  std::printf("end of stream after 32 MiB, %s: the server got %.2f MiB%s%s\n",
              wait_for_drain ? ("shut down once the up leg had taken every redirected byte (" +
                                std::to_string(waited) + " ms after the FIN)").c_str()
                             : "shut down at the FIN",
              static_cast<double>(s.received) / mib, s.disorder ? ", out of order" : "",
              s.server_eof ? ", then its end of stream" : ", no end of stream");
  ::close(ep);
}

void deletion(bool bytes_pending) {
  session s;
  open_session(s);
  insert(s, ~std::uint64_t{0}, true);
  bool eof = false, disorder = false;
  std::uint64_t read = 0;
  client_write(s, 1000);
  sleep_ms(50);
  if (!bytes_pending) read += read_stream(s.front, 0, eof, disorder);
  if (bpf_map_delete_elem(socks_map, &s.front_key) != 0) die("sockhash delete");
  read += read_stream(s.front, read, eof, disorder);
  client_write(s, 2000);
  sleep_ms(200);
  const std::uint64_t after = read_stream(s.front, read, eof, disorder);
  const int read_error = errno;
  int available = -1;
  ::ioctl(s.front, FIONREAD, &available);
  std::printf("deletion from the sockhash with %s: recv reads %llu of the 1000 sent before it, %llu of the 1000 sent "
              "after (FIONREAD says %d unread; recv: %s)\n",
              bytes_pending ? "1000 passed bytes unread" : "nothing unread", ull(read), ull(after), available,
              eof ? "end of stream" : after > 0 ? "ok" : std::strerror(read_error));
}

std::string libbpf_log;
int keep_log(libbpf_print_level, const char* format, va_list args) {
  char text[8192];
  std::vsnprintf(text, sizeof text, format, args);
  libbpf_log += text;
  return 0;
}

/// The verifier's reason: the line before its "processed N insns" summary.
std::string verifier_reason() {
  const auto end = libbpf_log.find("\nprocessed ");
  if (end == std::string::npos) return libbpf_log.substr(0, libbpf_log.find('\n'));
  const auto begin = libbpf_log.rfind('\n', end - 1);
  return libbpf_log.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1));
}

void tcp_state_in_verdict(const char* path) {
  libbpf_set_print(keep_log);
  bpf_object* object = bpf_object__open_file(path, nullptr);
  const bool loaded = object && bpf_object__load(object) == 0;
  libbpf_set_print(nullptr);
  std::printf("bpf_tcp_sock(skb->sk) in an sk_skb verdict: %s\n",
              loaded ? "loads" : ("refused by the verifier: " + verifier_reason()).c_str());
  bpf_object__close(object);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: semantics credit.bpf.o tcp_sock.bpf.o\n");
    return 2;
  }
  bpf_object* object = bpf_object__open_file(argv[1], nullptr);
  if (!object || bpf_object__load(object) != 0) die(std::string("load ") + argv[1]);
  socks_map = bpf_object__find_map_fd_by_name(object, "socks");
  legs_map = bpf_object__find_map_fd_by_name(object, "legs");
  bpf_program* verdict = bpf_object__find_program_by_name(object, "verdict");
  if (socks_map < 0 || legs_map < 0 || !verdict ||
      bpf_prog_attach(bpf_program__fd(verdict), socks_map, BPF_SK_SKB_STREAM_VERDICT, 0) != 0)
    die("attach");
  queued_before_insertion();
  passed_bytes_readable();
  passed_bytes_flow_control();
  credit_bounds_then_hands_back();
  end_of_stream(false);
  end_of_stream(true);
  deletion(true);
  deletion(false);
  tcp_state_in_verdict(argv[2]);
  bpf_object__close(object);
  return 0;
}
