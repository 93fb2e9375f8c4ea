#pragma once
#include <string>

#include "cplb/config/config.hpp"
#include "cplb/core/socket_address.hpp"

namespace cplb::proxy {

/// Opens a non-blocking, close-on-exec TCP socket for `family`; -1 with `error` set on failure.
int open_tcp_socket(int family, std::string& error);

/// Sets TCP_NODELAY, keepalive and TCP_USER_TIMEOUT of a frontend on a socket. Accepted sockets
/// inherit these from their listening socket, so listeners and upstream sockets call this. On a
/// `fresh` socket, where every option is still off, only what is on is set; otherwise what the
/// frontend leaves off is switched off (a reload re-applying them to a kept listening socket).
void apply_session_options(int fd, const config::frontend_config& frontend, bool fresh);

/// True when `a` and `b` give sessions the same socket options (a listening socket can be kept
/// as it is).
bool same_session_options(const config::frontend_config& a, const config::frontend_config& b);

/// Opens a listening socket on `address` with SO_REUSEPORT (one per worker) and IP_FREEBIND
/// (so a VIP that is not yet local can be bound). Returns the fd, or -1 with `error` set.
int open_listener(const socket_address& address, const config::frontend_config& frontend,
                  std::string& error);

}  // namespace cplb::proxy
