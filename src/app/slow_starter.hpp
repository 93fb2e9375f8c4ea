#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <set>

#include "cplb/backend/backend.hpp"

namespace cplb::app {

/// Carries out `slow_start`: a server that comes up (or first comes up after a reload added it)
/// has its weight ramped from 0 to full over the window, so a returning apiserver is not swamped
/// by a reconnect storm. Not at process start, when every server is new. Control thread.
class slow_starter {
 public:
  explicit slow_starter(boost::asio::io_context& io);

  /// `server` was added by a reload: its first `up` ramps too.
  void added_by_reload(const backend::server* server) { added_.insert(server); }
  /// `server` of `backend` came up from `from`.
  void server_up(const backend::backend& backend, const backend::server_ptr& server,
                 backend::server_state from);
  /// `server` left service (or was removed): a ramp in progress is dropped.
  void server_gone(const backend::server& server);
  /// Stops ramping (shutdown).
  void stop();

 private:
  struct ramp {
    backend::server_ptr server;
    std::chrono::steady_clock::time_point since;
    duration window;
  };
  void tick();

  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;
  std::map<const backend::server*, ramp> ramps_;
  std::set<const backend::server*> added_;
  bool ticking_ = false;
};

}  // namespace cplb::app
