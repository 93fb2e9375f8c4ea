#include "cplb/app/fd_limit.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace cplb::app {

namespace {

constexpr std::size_t stdio = 3;
constexpr std::size_t control_thread = 6;  ///< Asio's epoll, eventfd and timerfd; the signal pipe
constexpr std::size_t per_worker = 2;      ///< epoll set and eventfd
constexpr std::size_t per_vrrp_instance = 3;  ///< ARP socket, link and address netlink
constexpr std::size_t per_vrrp_family = 1;    ///< a raw socket per family of its VIPs
constexpr std::size_t anycast_device = 1;  ///< the TUN device the anycast routes hang on
constexpr std::size_t placement_map = 1;   ///< the BPF array the workers publish their loads in
constexpr std::size_t margin = 16;         ///< files read now and then, a reload's new listeners

}  // namespace

std::size_t fd_headroom(const config::config& cfg, unsigned workers, std::size_t admin_connections) {
  std::size_t servers = 0;
  for (const auto& b : cfg.backends) servers += b.servers.size();
  std::size_t vrrp = 0;
  for (const auto& v : cfg.vrrp_instances) {
    const auto has = [&v](bool v6) {
      return std::any_of(v.virtual_ips.begin(), v.virtual_ips.end(),
                         [v6](const config::ip_cidr& c) { return c.address.is_v6() == v6; });
    };
    vrrp += per_vrrp_instance + per_vrrp_family * std::max<std::size_t>(has(false) + has(true), 1);
  }
  return stdio + control_thread + workers * (per_worker + cfg.frontends.size()) + servers +
         1 + admin_connections + vrrp + (cfg.anycast.empty() ? 0 : anycast_device) + placement_map +
         margin;
}

fd_budget fit_connections(std::size_t wanted, std::size_t limit, std::size_t headroom,
                          std::size_t max_pipes) {
  const std::size_t usable = limit > headroom ? limit - headroom : 0;
  const std::size_t fits = std::max<std::size_t>(usable / 2, 1);  // a session or a pipe: two fds
  const std::size_t spare = fits > wanted ? fits - wanted : 0;
  const std::size_t pipes = std::min({max_pipes, std::max(spare, fits / 64), fits - 1});
  const std::size_t cap = std::min(wanted, fits - pipes);
  return {cap, limit, wanted > cap, pipes};
}

fd_budget raise_fd_limit(std::size_t wanted, std::size_t headroom, std::size_t max_pipes) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  return fit_connections(wanted, static_cast<std::size_t>(lim.rlim_cur), headroom, max_pipes);
}

}  // namespace cplb::app
