#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>

#include "cplb/backend/backend.hpp"
#include "cplb/proxy/proxy.hpp"

namespace cplb::app {

/// Carries out `on_server_down` for servers that went down or were removed by a reload:
/// `keep` leaves their sessions, `close` resets them at once, `drain` waits `drain.grace`
/// (cancelled if the server comes back up meanwhile) and then closes them spread over
/// `drain.spread`. Runs on the control thread.
class server_down_policy {
 public:
  server_down_policy(boost::asio::io_context& io, proxy::proxy& proxy);

  /// `server` of `backend` just went down.
  void server_down(const backend::backend& backend, const backend::server_ptr& server);
  /// `server` came back up: a pending drain is called off.
  void server_up(const backend::server& server);
  /// `server` of `backend` was removed by a reload (whatever its state).
  void server_removed(const backend::backend& backend, const backend::server_ptr& server);
  /// Cancels every pending drain.
  void stop();

 private:
  void apply(const backend::backend& backend, const backend::server_ptr& server);

  boost::asio::io_context& io_;
  proxy::proxy& proxy_;
  std::map<const backend::server*, std::unique_ptr<boost::asio::steady_timer>> drains_;
};

}  // namespace cplb::app
