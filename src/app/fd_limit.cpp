#include "cplb/app/fd_limit.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace cplb::app {

fd_budget fit_connections(std::size_t wanted, std::size_t limit) {
  const std::size_t usable = limit > fd_headroom ? limit - fd_headroom : 0;
  const std::size_t fits = std::max<std::size_t>(usable / 2, 1);
  return {std::min(wanted, fits), limit, wanted > fits};
}

fd_budget raise_fd_limit(std::size_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  return fit_connections(wanted, static_cast<std::size_t>(lim.rlim_cur));
}

}  // namespace cplb::app
