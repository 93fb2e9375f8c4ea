// global.data_path: whether bulk sessions move inside the kernel (see docs/design.md, "The
// sockmap path").
#include <stdexcept>

#include "cplb/core/log.hpp"
#include "daemon.hpp"

namespace cplb::app {

void daemon::open_data_path() {
  std::string error;
  if (inherited_ && inherited_->sockmap.legs_fd >= 0) {
    // The sessions about to be handed over are in the previous process's sockhash, and stay
    // there: this process takes its maps whatever its own file says.
    if (!proxy_->inherit_sockmap(std::exchange(inherited_->sockmap, {}), error))
      throw std::runtime_error("taking over the sockmap data path: " + error);
    log::info("data path: sockmap, taken over from the previous process");
    return;
  }
  const auto wanted = config_.global.path;
  if (wanted == config::data_path::epoll) {
    log::info("data path: epoll", {{"reason", "global.data_path: epoll"}});
    return;
  }
  if (proxy_->open_sockmap(error)) {
    log::info("data path: sockmap");
    return;
  }
  if (wanted == config::data_path::sockmap)
    throw std::runtime_error("global.data_path: sockmap is not available: " + error);
  log::info("data path: epoll", {{"reason", "sockmap is not available: " + error}});
}

}  // namespace cplb::app
