#include "socket_options.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78  // <linux/in6.h>, which clashes with <netinet/in.h>
#endif

namespace cplb::proxy {

namespace {

void set_int(int fd, int level, int name, int value) {
  ::setsockopt(fd, level, name, &value, sizeof value);
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

int open_tcp_socket(int family, std::string& error) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) error = errno_text("socket");
  return fd;
}

void apply_session_options(int fd, const config::frontend_config& frontend, bool fresh) {
  if (fresh) set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  const auto keepalive_s = std::chrono::duration_cast<std::chrono::seconds>(frontend.tcp_keepalive).count();
  const auto user_timeout_ms = frontend.tcp_user_timeout.count();
  if (keepalive_s > 0 || !fresh) set_int(fd, SOL_SOCKET, SO_KEEPALIVE, keepalive_s > 0 ? 1 : 0);
  if (keepalive_s > 0) {
    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(keepalive_s));
    set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(std::max<long>(1, keepalive_s / 3)));
    // With TCP_USER_TIMEOUT set the kernel ends a dead connection by it, not by a probe count.
    if (user_timeout_ms == 0) set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
  }
  if (user_timeout_ms > 0 || !fresh)
    set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(user_timeout_ms));
}

bool same_session_options(const config::frontend_config& a, const config::frontend_config& b) {
  return a.tcp_keepalive == b.tcp_keepalive && a.tcp_user_timeout == b.tcp_user_timeout;
}

int open_listener(const socket_address& address, const config::frontend_config& frontend,
                  std::string& error) {
  const int fd = open_tcp_socket(address.family(), error);
  if (fd < 0) return -1;
  set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
  if (address.family() == AF_INET) set_int(fd, IPPROTO_IP, IP_FREEBIND, 1);
  if (address.family() == AF_INET6) {
    set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);  // [::] is dual-stack, as the config assumes
    set_int(fd, IPPROTO_IPV6, IPV6_FREEBIND, 1);
  }
  apply_session_options(fd, frontend, true);
  if (::bind(fd, address.data(), address.size()) != 0) {
    error = "bind " + address.to_string() + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  // The kernel caps the backlog at net.core.somaxconn: asking for more than SOMAXCONN (4096)
  // lets an operator raise it for reconnect storms.
  if (::listen(fd, 65535) != 0) {
    error = "listen " + address.to_string() + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace cplb::proxy
