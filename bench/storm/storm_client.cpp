// storm_client: a reconnect storm against one TCP address (bench/run.sh storm, bench/lib/storm.py).
//
// N clients connect within a spread (or as fast as one thread can open them, --unpaced), each
// sends one HTTP/1.1 GET with `Connection: close` and reads the answer to EOF. One thread, one
// edge-triggered epoll set, non-blocking connects, so the client costs little next to the proxy
// it measures. Per connection it records, from the moment connect() is called:
//   connect     until the socket is writable (the kernel completed the handshake)
//   first byte  until the first byte of the answer
//   done        until EOF after an answer that starts with "HTTP/1.x 2xx"
// and a failure kind: refused, reset, timeout (no answer within --timeout), connect_timeout (not
// even connected within --timeout), bad_response (EOF before an answer, or not 2xx), local (the
// client itself could not open a socket: descriptors, ephemeral ports).
//
// Prints one JSON line:
//   {"clients":N,"served":S,"failed":F,"failures":{...},"connect_ms":{"p50","p99","max"},
//    "first_byte_ms":{...},"done_ms":{...},"last_served_ms":T,"opened_ms":O,"late_max_ms":L,...}
// last_served_ms: from the first connect() to the end of the last served answer (the storm's
// length as the clients see it); opened_ms: from the first connect() to the last; late_max_ms:
// how far behind its schedule the client opened a connection (its own lag; paced runs only).
//
//   g++ -O2 -std=c++20 -o storm_client bench/storm/storm_client.cpp
//   storm_client --connect 127.0.0.1:PORT [--clients 8000] [--spread-ms 1000 | --unpaced]
//                [--timeout-ms 10000] [--path /] [--sources K]
//
// --sources K binds the client sockets to 127.0.0.2 ... 127.0.0.(K+1) in turn (loopback; more
// four-tuples if ephemeral ports run short across rounds). The soft RLIMIT_NOFILE is raised to
// the hard limit; N must fit in it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace {

using clk = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now().time_since_epoch()).count();
}

enum class kind { none, refused, reset, timeout, connect_timeout, bad_response, local, other };
constexpr const char* kind_names[] = {"none",         "refused", "reset", "timeout", "connect_timeout",
                                      "bad_response", "local",   "other"};
constexpr int kind_count = 8;

enum class state : std::uint8_t { idle, connecting, waiting, reading, done, failed };

struct conn {
  int fd = -1;
  state st = state::idle;
  kind failure = kind::none;
  std::int64_t scheduled = 0, start = 0, connected = 0, first_byte = 0, done = 0;
  std::size_t got = 0;
  char head[16] = {};  // the answer's first bytes, for the status
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "storm_client: %s\nusage: storm_client --connect HOST:PORT [--clients N] [--spread-ms MS | "
               "--unpaced] [--timeout-ms MS] [--path PATH] [--sources K]\n",
               why);
  std::exit(2);
}

struct options {
  sockaddr_in target{};
  std::string host = "127.0.0.1";
  int clients = 8000;
  double spread_ms = 1000;
  bool unpaced = false;
  double timeout_ms = 10000;
  std::string path = "/";
  int sources = 0;
};

options parse(int argc, char** argv) {
  options o;
  bool have_target = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage("missing value");
      return argv[++i];
    };
    if (a == "--connect") {
      std::string v = value();
      const auto colon = v.rfind(':');
      if (colon == std::string::npos) usage("--connect HOST:PORT");
      o.host = v.substr(0, colon);
      o.target.sin_family = AF_INET;
      o.target.sin_port = htons(static_cast<std::uint16_t>(std::atoi(v.c_str() + colon + 1)));
      if (::inet_pton(AF_INET, o.host.c_str(), &o.target.sin_addr) != 1) usage("--connect: an IPv4 address");
      have_target = true;
    } else if (a == "--clients") {
      o.clients = std::atoi(value());
    } else if (a == "--spread-ms") {
      o.spread_ms = std::atof(value());
    } else if (a == "--unpaced") {
      o.unpaced = true;
    } else if (a == "--timeout-ms") {
      o.timeout_ms = std::atof(value());
    } else if (a == "--path") {
      o.path = value();
    } else if (a == "--sources") {
      o.sources = std::atoi(value());
    } else {
      usage("unknown argument");
    }
  }
  if (!have_target) usage("--connect is required");
  if (o.clients < 1) usage("--clients: at least 1");
  if (o.sources < 0 || o.sources > 250) usage("--sources: 0 to 250");
  return o;
}

double pct(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  // Nearest rank.
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return static_cast<double>(v[rank - 1]) / 1e6;
}

std::string stats_json(std::vector<std::int64_t> v) {
  char buf[160];
  if (v.empty()) return "{\"n\":0,\"p50\":null,\"p99\":null,\"max\":null}";
  std::snprintf(buf, sizeof buf, "{\"n\":%zu,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", v.size(), pct(v, 50),
                pct(v, 99), pct(v, 100));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse(argc, argv);

  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (static_cast<rlim_t>(opt.clients) + 16 > rl.rlim_cur) {
    std::fprintf(stderr, "storm_client: %d clients do not fit in the open-files limit %ju\n", opt.clients,
                 static_cast<uintmax_t>(rl.rlim_cur));
    return 2;
  }

  const std::string request = "GET " + opt.path + " HTTP/1.1\r\nHost: " + opt.host +
                              "\r\nUser-Agent: storm_client\r\nConnection: close\r\n\r\n";
  const auto timeout_ns = static_cast<std::int64_t>(opt.timeout_ms * 1e6);

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    std::perror("epoll_create1");
    return 2;
  }
  std::vector<conn> conns(static_cast<std::size_t>(opt.clients));
  int open_now = 0, finished = 0, next = 0;
  int fail_count[kind_count] = {};

  auto finish = [&](conn& c, kind k) {
    if (c.fd >= 0) {
      if (k != kind::none) {
        // A failed client resets rather than lingering in FIN_WAIT.
        const linger l{1, 0};
        ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      }
      ::close(c.fd);  // also leaves the epoll set
      c.fd = -1;
      --open_now;
    }
    c.failure = k;
    c.st = k == kind::none ? state::done : state::failed;
    if (k != kind::none) ++fail_count[static_cast<int>(k)];
    ++finished;
  };

  auto kind_of_errno = [](int e) {
    switch (e) {
      case ECONNREFUSED: return kind::refused;
      case ECONNRESET: case EPIPE: return kind::reset;
      case ETIMEDOUT: return kind::connect_timeout;
      case EMFILE: case ENFILE: case EADDRNOTAVAIL: case ENOBUFS: case ENOMEM: return kind::local;
      default: return kind::other;
    }
  };

  auto open_one = [&](conn& c, std::int64_t scheduled) {
    c.scheduled = scheduled;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c.start = now_ns();
    if (fd < 0) return finish(c, kind_of_errno(errno));
    c.fd = fd;
    ++open_now;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt.sources > 0) {
      ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = htonl(0x7f000002u + static_cast<std::uint32_t>((&c - conns.data()) % opt.sources));
      if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return finish(c, kind_of_errno(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = static_cast<std::uint64_t>(&c - conns.data());
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) return finish(c, kind::local);
    c.start = now_ns();
    c.st = state::connecting;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&opt.target), sizeof opt.target) == 0) return;
    if (errno != EINPROGRESS) return finish(c, kind_of_errno(errno));
  };

  auto on_writable = [&](conn& c, std::int64_t t) {
    if (c.st != state::connecting) return;
    int error = 0;
    socklen_t len = sizeof error;
    if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    if (error != 0) return finish(c, kind_of_errno(error));
    c.connected = t;
    const auto n = ::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != static_cast<ssize_t>(request.size()))
      return finish(c, n < 0 ? kind_of_errno(errno) : kind::other);  // a 100-byte send never fills
    c.st = state::waiting;
  };

  char buf[16384];
  auto on_readable = [&](conn& c, std::int64_t t) {
    if (c.st != state::waiting && c.st != state::reading) return;
    for (;;) {
      const auto n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        if (c.st == state::waiting) {
          c.first_byte = t;
          c.st = state::reading;
        }
        if (c.got < sizeof c.head - 1)
          std::memcpy(c.head + c.got, buf, std::min(sizeof c.head - 1 - c.got, static_cast<std::size_t>(n)));
        c.got += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0) {
        c.done = now_ns();
        // "HTTP/1.1 200" : the status's first digit is at offset 9.
        const bool ok = c.got >= 12 && std::memcmp(c.head, "HTTP/1.", 7) == 0 && c.head[9] == '2';
        return finish(c, ok ? kind::none : kind::bad_response);
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      return finish(c, kind_of_errno(errno));
    }
  };

  const std::int64_t t0 = now_ns();
  const auto spread_ns = static_cast<std::int64_t>(opt.spread_ms * 1e6);
  auto scheduled_at = [&](int i) {
    if (opt.unpaced || opt.clients == 1) return t0;
    return t0 + spread_ns * i / (opt.clients - 1);
  };
  std::int64_t late_max = 0;
  std::vector<epoll_event> events(1024);
  std::int64_t last_sweep = t0;

  while (finished < opt.clients) {
    std::int64_t t = now_ns();
    // Open every connection that is due (all of them, unpaced, as fast as they go).
    while (next < opt.clients && scheduled_at(next) <= t) {
      conn& c = conns[static_cast<std::size_t>(next)];
      open_one(c, scheduled_at(next));
      late_max = std::max(late_max, c.start - c.scheduled);
      ++next;
      if (opt.unpaced && (next & 255) == 0) break;  // drain some events now and then
      t = now_ns();
    }
    int wait_ms;
    if (next < opt.clients) {
      wait_ms = opt.unpaced ? 0 : static_cast<int>(std::max<std::int64_t>(0, (scheduled_at(next) - now_ns()) / 1000000));
    } else {
      wait_ms = 5;
    }
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), wait_ms);
    t = now_ns();
    for (int i = 0; i < n; ++i) {
      conn& c = conns[events[static_cast<std::size_t>(i)].data.u64];
      const auto e = events[static_cast<std::size_t>(i)].events;
      if (c.fd < 0) continue;
      if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(c, t);
      if (c.fd >= 0 && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) on_readable(c, t);
    }
    // Timeouts, every 10 ms.
    if (t - last_sweep >= 10'000'000) {
      last_sweep = t;
      for (int i = 0; i < next; ++i) {
        conn& c = conns[static_cast<std::size_t>(i)];
        if (c.fd >= 0 && t - c.start >= timeout_ns)
          finish(c, c.st == state::connecting ? kind::connect_timeout : kind::timeout);
      }
    }
  }

  std::vector<std::int64_t> connect_lat, first_lat, done_lat;
  std::int64_t first_start = INT64_MAX, last_start = 0, last_done = 0;
  int served = 0;
  for (const auto& c : conns) {
    first_start = std::min(first_start, c.start);
    last_start = std::max(last_start, c.start);
    if (c.connected) connect_lat.push_back(c.connected - c.start);
    if (c.first_byte) first_lat.push_back(c.first_byte - c.start);
    if (c.st == state::done) {
      ++served;
      done_lat.push_back(c.done - c.start);
      last_done = std::max(last_done, c.done);
    }
  }
  std::string failures = "{";
  for (int k = 1; k < kind_count; ++k) {
    char item[64];
    std::snprintf(item, sizeof item, "%s\"%s\":%d", k > 1 ? "," : "", kind_names[k], fail_count[k]);
    failures += item;
  }
  failures += "}";
  std::printf(
      "{\"clients\":%d,\"served\":%d,\"failed\":%d,\"failures\":%s,\"connect_ms\":%s,\"first_byte_ms\":%s,"
      "\"done_ms\":%s,\"last_served_ms\":%.3f,\"opened_ms\":%.3f,\"late_max_ms\":%.3f,\"unpaced\":%s,"
      "\"spread_ms\":%.1f}\n",
      opt.clients, served, opt.clients - served, failures.c_str(), stats_json(connect_lat).c_str(),
      stats_json(first_lat).c_str(), stats_json(done_lat).c_str(),
      served ? static_cast<double>(last_done - first_start) / 1e6 : -1.0,
      static_cast<double>(last_start - first_start) / 1e6, opt.unpaced ? 0.0 : static_cast<double>(late_max) / 1e6,
      opt.unpaced ? "true" : "false", opt.unpaced ? 0.0 : opt.spread_ms);
  return served == opt.clients ? 0 : 1;
}
