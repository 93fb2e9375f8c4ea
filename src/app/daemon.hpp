#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <string>

#include "cplb/app/options.hpp"
#include "cplb/backend/backend.hpp"
#include "cplb/config/config.hpp"
#include "cplb/health/checker.hpp"
#include "cplb/proxy/proxy.hpp"
#include "server_down_policy.hpp"

namespace cplb::app {

/// Exit codes of the contract.
enum exit_code : int { exit_ok = 0, exit_bad_config = 1, exit_runtime_failure = 2 };

/// The running daemon: the control thread (config, reload, health, signals) around the proxy's
/// worker threads.
class daemon {
 public:
  /// Takes a validated config loaded from `opts.config_file`.
  daemon(const options& opts, config::config cfg);
  ~daemon();

  /// Starts everything and runs the control thread until a graceful stop; returns the exit code.
  int run();

 private:
  void start();
  void wait_signals();
  void reload();
  void begin_shutdown();
  void wait_sessions_then_stop(std::chrono::steady_clock::time_point deadline);
  void finish_shutdown();

  void on_transition(const backend::backend& b, backend::server& s, backend::server_state from,
                     backend::server_state to);
  void note_all_down(const backend::backend& b);
  /// Applies on_server_down to servers of `old_set` absent from `new_set`.
  void retire_removed_servers(const backend::backend_set& old_set, const backend::backend_set& new_set);

  options options_;
  config::config config_;
  boost::asio::io_context control_{1};
  boost::asio::signal_set signals_{control_};
  boost::asio::steady_timer shutdown_timer_{control_};
  std::unique_ptr<proxy::proxy> proxy_;
  std::unique_ptr<health::checker> checker_;
  std::unique_ptr<server_down_policy> down_policy_;
  std::shared_ptr<const backend::backend_set> backends_;
  std::shared_ptr<const proxy::runtime> runtime_;
  std::map<std::string, bool> all_down_;  ///< backends in all_down, to log entry and exit once
  unsigned workers_ = 1;
  bool stopping_ = false;
};

}  // namespace cplb::app
