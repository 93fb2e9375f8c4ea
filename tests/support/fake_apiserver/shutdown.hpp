#pragma once
#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server_state.hpp"

namespace cplb::fake_apiserver {

/// A graceful termination like kube-apiserver's: /readyz and /healthz answer 500 for the delay while
/// everything else is served as before; then the data listener closes, open watches end cleanly,
/// every further answer closes its connection, and once no data-plane connection is left (at most
/// `drain_limit` later) the server is stopped.
class graceful_shutdown : public std::enable_shared_from_this<graceful_shutdown> {
 public:
  /// Longest wait, after the watches were ended, for the data-plane connections to go.
  static constexpr std::chrono::milliseconds drain_limit{1000};

  /// `close_listener` stops accepting on the data plane; `stop` ends the process's event loop.
  graceful_shutdown(boost::asio::io_context& io, std::shared_ptr<server_state> state,
                    std::chrono::milliseconds delay, std::function<void()> close_listener,
                    std::function<void()> stop);

  /// Starts the termination; a second call stops at once.
  void begin();

 private:
  void close();
  void wait_for_connections();

  std::shared_ptr<server_state> state_;   ///< readiness, watches, connection count
  std::chrono::milliseconds delay_;       ///< of failing /readyz before closing
  std::function<void()> close_listener_;  ///< stops accepting
  std::function<void()> stop_;            ///< ends the process
  boost::asio::steady_timer timer_;       ///< the delay, then the polls of the connection count
  std::chrono::steady_clock::time_point drain_deadline_;  ///< stop by then whatever is open
  bool begun_ = false;                    ///< begin() was called
};

}  // namespace cplb::fake_apiserver
