#include "cplb/proxy/handover.hpp"

#include <unistd.h>

#include <utility>

namespace cplb::proxy {

void handed_session::close_fds() noexcept {
  if (client_fd >= 0) ::close(std::exchange(client_fd, -1));
  if (upstream_fd >= 0) ::close(std::exchange(upstream_fd, -1));
}

void handed_sockmap::close_fds() noexcept {
  for (int* fd : {&socks_fd, &slots_fd, &legs_fd})
    if (*fd >= 0) ::close(std::exchange(*fd, -1));
}

}  // namespace cplb::proxy
