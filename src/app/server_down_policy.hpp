#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>

#include "cplb/backend/backend.hpp"
#include "cplb/proxy/proxy.hpp"

namespace cplb::app {

/// Carries out `on_server_down` for servers that left service or were removed by a reload:
/// `keep` leaves their sessions, `close` resets them at once, `drain` waits `drain.grace`
/// (`drain.not_ready_grace` while the server is only not_ready: a kube-apiserver shutting down
/// gracefully closes its sessions itself), called off if the server comes back up meanwhile,
/// then closes them spread over `drain.spread`. Runs on the control thread.
class server_down_policy {
 public:
  server_down_policy(boost::asio::io_context& io, proxy::proxy& proxy);

  /// `server` of `backend` just went down.
  void server_down(const backend::backend& backend, const backend::server_ptr& server);
  /// `server` of `backend` is alive but not ready.
  void server_not_ready(const backend::backend& backend, const backend::server_ptr& server);
  /// `server` came back up: a pending drain is called off.
  void server_up(const backend::server& server);
  /// `server` of `backend` was removed by a reload (whatever its state).
  void server_removed(const backend::backend& backend, const backend::server_ptr& server);
  /// Cancels every pending drain.
  void stop();

 private:
  /// A drain waiting for its grace to end.
  struct pending {
    std::unique_ptr<boost::asio::steady_timer> timer;
    bool not_ready = false;  ///< waiting out not_ready_grace
  };

  void apply(const backend::backend& backend, const backend::server_ptr& server, bool not_ready);

  boost::asio::io_context& io_;
  proxy::proxy& proxy_;
  std::map<const backend::server*, pending> drains_;
};

}  // namespace cplb::app
