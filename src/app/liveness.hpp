#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <set>
#include <vector>

#include "cplb/admin/health.hpp"
#include "cplb/proxy/proxy.hpp"

namespace cplb::app {

/// The answer of /livez: the control thread's loop turns (it answers the request), and so does
/// every worker's, proven by a no-op posted to each every second (proxy::ping_workers). Says
/// nothing of the backends: a kubelet must not restart cplb because the apiservers are down.
/// Control thread.
class liveness {
 public:
  liveness(boost::asio::io_context& io, proxy::proxy& proxy);

  /// Pings the workers now and every second, until stop().
  void start();
  void stop();
  /// Ok, or 503 naming each worker whose no-op has waited more than a few seconds.
  admin::health_verdict verdict() const;

 private:
  void tick();
  /// Logs the workers that became stuck and those that turn again.
  void note(const std::vector<proxy::stalled_worker>& stalled);

  proxy::proxy& proxy_;
  boost::asio::steady_timer timer_;
  std::set<unsigned> stuck_;  ///< workers logged as stuck
  bool stopped_ = false;
};

}  // namespace cplb::app
