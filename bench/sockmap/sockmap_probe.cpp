// A one-thread TCP relay of bench/sockmap: 127.0.0.1:LISTEN to 127.0.0.1:UPSTREAM, either
// copying through user space with epoll (as cplb's workers do for small messages), moving
// through a pipe with splice (as cplb does for bulk directions), or handing each session's two
// sockets to the kernel's sockmap redirect (redirect.bpf.c). It measures what the issue's
// in-kernel data path would give and what it would break; probe.py drives it.
//
//   sockmap_probe epoll|splice LISTEN UPSTREAM
//   sockmap_probe sockmap LISTEN UPSTREAM redirect.bpf.o
//
// On a read of 0 it shuts the peer's write side at once, as a relay does when it holds no
// unsent bytes. It prints "listening" once it listens and, on SIGTERM, "user_bytes=N
// kernel_bytes=M" (the bytes each path carried).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "sockmap_probe: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

bool use_splice = false;

struct leg {
  int from = -1, to = -1;
  int pipe_r = -1, pipe_w = -1;  // splice mode: a 1 MiB pipe, made at the first event
  std::size_t in_pipe = 0;
  char buf[65536];
  std::size_t len = 0, off = 0;
  bool eof = false, shut = false;
};

struct session {
  int client = -1, upstream = -1;
  std::uint32_t key = 0;  // the client's key in the sockhash; the upstream's is key + 1
  leg up, down;
};

struct kernel_path {
  bpf_object* object = nullptr;
  int sessions = -1, peer_of = -1, redirected = -1;
};

std::uint64_t user_bytes = 0;

// pump in splice mode: socket to pipe, pipe to socket, never through user space.
bool pump_splice(leg& l) {
  if (l.pipe_r < 0) {
    int p[2];
    if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) die("pipe");
    ::fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    l.pipe_r = p[0];
    l.pipe_w = p[1];
  }
  for (;;) {
    if (l.in_pipe > 0) {
      const ssize_t w = ::splice(l.pipe_r, nullptr, l.to, nullptr, l.in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (w < 0) return errno == EAGAIN;
      l.in_pipe -= static_cast<std::size_t>(w);
      user_bytes += static_cast<std::uint64_t>(w);
      continue;
    }
    if (l.eof) {
      if (!l.shut) ::shutdown(l.to, SHUT_WR);
      l.shut = true;
      return true;
    }
    const ssize_t n = ::splice(l.from, nullptr, l.pipe_w, nullptr, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) l.in_pipe = static_cast<std::size_t>(n);
    else if (n == 0) l.eof = true;
    else return errno == EAGAIN;
  }
}

// Moves what it can from leg.from to leg.to; false on an error that ends the session.
bool pump(leg& l) {
  if (use_splice) return pump_splice(l);
  for (;;) {
    if (l.off == l.len) {
      if (l.eof) {
        if (!l.shut) ::shutdown(l.to, SHUT_WR);
        l.shut = true;
        return true;
      }
      const ssize_t n = ::read(l.from, l.buf, sizeof l.buf);
      if (n > 0) {
        l.len = static_cast<std::size_t>(n);
        l.off = 0;
      } else if (n == 0) {
        l.eof = true;
      } else {
        return errno == EAGAIN;
      }
      continue;
    }
    const ssize_t w = ::write(l.to, l.buf + l.off, l.len - l.off);
    if (w < 0) return errno == EAGAIN;
    l.off += static_cast<std::size_t>(w);
    user_bytes += static_cast<std::uint64_t>(w);
  }
}

kernel_path load(const char* path) {
  kernel_path k;
  k.object = bpf_object__open_file(path, nullptr);
  if (!k.object || bpf_object__load(k.object) != 0) die(std::string("load ") + path);
  k.sessions = bpf_object__find_map_fd_by_name(k.object, "sessions");
  k.peer_of = bpf_object__find_map_fd_by_name(k.object, "peer_of");
  k.redirected = bpf_object__find_map_fd_by_name(k.object, "redirected");
  bpf_program* prog = bpf_object__find_program_by_name(k.object, "redirect_to_peer");
  if (!prog || bpf_prog_attach(bpf_program__fd(prog), k.sessions, BPF_SK_SKB_STREAM_VERDICT, 0) != 0)
    die("attach the stream verdict program");
  return k;
}

std::uint64_t cookie_of(int fd) {
  std::uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) die("SO_COOKIE");
  return cookie;
}

// Peers first, then the sockets: the program runs only on sockets in the sockhash.
void hand_to_kernel(const kernel_path& k, const session& s) {
  const std::uint32_t client_key = s.key, upstream_key = s.key + 1;
  const std::uint64_t client_cookie = cookie_of(s.client), upstream_cookie = cookie_of(s.upstream);
  if (bpf_map_update_elem(k.peer_of, &client_cookie, &upstream_key, BPF_ANY) != 0 ||
      bpf_map_update_elem(k.peer_of, &upstream_cookie, &client_key, BPF_ANY) != 0)
    die("peer_of");
  const std::uint64_t client_fd = static_cast<std::uint64_t>(s.client);
  const std::uint64_t upstream_fd = static_cast<std::uint64_t>(s.upstream);
  if (bpf_map_update_elem(k.sessions, &upstream_key, &upstream_fd, BPF_ANY) != 0 ||
      bpf_map_update_elem(k.sessions, &client_key, &client_fd, BPF_ANY) != 0)
    die("sockhash");
}

void forget(const kernel_path& k, const session& s) {
  const std::uint32_t keys[] = {s.key, s.key + 1};
  for (auto key : keys) bpf_map_delete_elem(k.sessions, &key);
  const std::uint64_t cookies[] = {cookie_of(s.client), cookie_of(s.upstream)};
  for (auto cookie : cookies) bpf_map_delete_elem(k.peer_of, &cookie);
}

int listen_on(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1024) != 0)
    die("listen");
  return fd;
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (argc < 4 || (mode != "epoll" && mode != "sockmap" && mode != "splice") || (mode == "sockmap" && argc < 5)) {
    std::fprintf(stderr, "usage: sockmap_probe epoll|splice|sockmap LISTEN UPSTREAM [redirect.bpf.o]\n");
    return 2;
  }
  const bool in_kernel = mode == "sockmap";
  use_splice = mode == "splice";
  kernel_path kernel;
  if (in_kernel) kernel = load(argv[4]);
  const int upstream_port = std::atoi(argv[3]);
  const int listener = listen_on(std::atoi(argv[2]));
  std::printf("listening\n");
  std::fflush(stdout);

  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  sigprocmask(SIG_BLOCK, &term, nullptr);
  const int signals = ::signalfd(-1, &term, SFD_CLOEXEC);

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listener
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  static int signals_tag;
  ev.data.ptr = &signals_tag;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, signals, &ev);

  std::unordered_map<session*, std::unique_ptr<session>> live;
  std::uint32_t next_key = 0;
  epoll_event events[64];
  for (;;) {
    const int n = ::epoll_wait(ep, events, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &signals_tag) {
        std::uint64_t kernel_bytes = 0;
        const std::uint32_t zero = 0;
        if (in_kernel) bpf_map_lookup_elem(kernel.redirected, &zero, &kernel_bytes);
        std::printf("user_bytes=%llu kernel_bytes=%llu\n", static_cast<unsigned long long>(user_bytes),
                    static_cast<unsigned long long>(kernel_bytes));
        return 0;
      }
      if (!tag) {
        for (;;) {
          const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (client < 0) break;
          const int upstream = connect_to(upstream_port);
          if (upstream < 0) {
            ::close(client);
            continue;
          }
          const int one = 1;
          ::setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ::fcntl(upstream, F_SETFL, O_NONBLOCK);
          auto s = std::make_unique<session>();
          s->client = client;
          s->upstream = upstream;
          s->key = next_key;
          next_key = (next_key + 2) % 1024;
          s->up.from = s->down.to = client;
          s->up.to = s->down.from = upstream;
          if (in_kernel) hand_to_kernel(kernel, *s);
          // Edge-triggered: every event pumps both legs until they would block. With the
          // sockets in the sockhash, reads see only bytes that arrived before the hand-over
          // and the end of the stream.
          epoll_event se{};
          se.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          se.data.ptr = s.get();
          ::epoll_ctl(ep, EPOLL_CTL_ADD, client, &se);
          ::epoll_ctl(ep, EPOLL_CTL_ADD, upstream, &se);
          live.emplace(s.get(), std::move(s));
        }
        continue;
      }
      auto* s = static_cast<session*>(tag);
      if (!live.count(s)) continue;  // ended earlier in this batch
      const bool ok = pump(s->up) && pump(s->down);
      if (ok && !(s->up.shut && s->down.shut)) continue;
      if (in_kernel) forget(kernel, *s);
      ::close(s->client);
      ::close(s->upstream);
      for (const int fd : {s->up.pipe_r, s->up.pipe_w, s->down.pipe_r, s->down.pipe_w})
        if (fd >= 0) ::close(fd);
      live.erase(s);
    }
  }
}
