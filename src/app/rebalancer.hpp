#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>

#include "cplb/backend/backend.hpp"
#include "cplb/backend/rebalance_planner.hpp"
#include "cplb/proxy/proxy.hpp"

namespace cplb::app {

/// Carries out `rebalance`: long-lived sessions (watches) stay where they are after a rolling
/// restart, so every tick it looks for servers holding more than `threshold` x their fair
/// share, and lets their surplus of quiet sessions leave, spread over `spread`. One episode per
/// over-full server, logged once; it ends as soon as the server is back under the threshold.
/// Control thread.
class rebalancer {
 public:
  rebalancer(boost::asio::io_context& io, proxy::proxy& proxy);

  /// Watches the backends of `set` from now on (start and every reload).
  void watch(std::shared_ptr<const backend::backend_set> set);
  /// Stops (shutdown).
  void stop();

 private:
  void tick();
  void plan(const backend::backend& b, std::chrono::steady_clock::time_point now);

  boost::asio::io_context& io_;
  proxy::proxy& proxy_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<const backend::backend_set> set_;
  /// An over-full server's episode, and what is left of its last request to the workers.
  struct episode {
    backend::rebalance_episode pace;
    std::shared_ptr<const std::atomic<std::int64_t>> unused;
  };
  std::map<const backend::server*, episode> episodes_;
  bool stopped_ = false;
};

}  // namespace cplb::app
