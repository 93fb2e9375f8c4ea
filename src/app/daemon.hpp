#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cplb/admin/server.hpp"
#include "cplb/anycast/announcer.hpp"
#include "cplb/anycast/device.hpp"
#include "cplb/app/options.hpp"
#include "cplb/backend/backend.hpp"
#include "cplb/config/config.hpp"
#include "cplb/generation/generation.hpp"
#include "cplb/health/checker.hpp"
#include "cplb/metrics/exporter.hpp"
#include "cplb/proxy/proxy.hpp"
#include "cplb/vrrp/group.hpp"
#include "generation_plan.hpp"
#include "liveness.hpp"
#include "rebalancer.hpp"
#include "server_down_policy.hpp"
#include "slow_starter.hpp"
#include "successor.hpp"
#include "upgrade_channel.hpp"
#include "upgrade_messages.hpp"

namespace cplb::app {

struct upgrade_attempt;
class predecessor_watch;

/// Exit codes of the contract.
enum exit_code : int { exit_ok = 0, exit_bad_config = 1, exit_runtime_failure = 2 };

/// The running daemon: the control thread (config, reload, health, VRRP, admin, signals) around
/// the proxy's worker threads. Start and every reload go through one transaction: `prepare`
/// builds a generation_plan touching nothing live, `commit` swaps it in (see docs/design.md).
class daemon {
 public:
  /// Takes a validated config loaded from `opts.config_file`, and how the process was started
  /// (to start its successor on SIGUSR2). With `takeover`, the channel to the process it takes
  /// over from (it was started by that one's SIGUSR2).
  daemon(const options& opts, config::config cfg, command_line cmd,
         std::unique_ptr<upgrade_channel> takeover = nullptr);
  ~daemon();

  /// Starts everything and runs the control thread until a graceful stop; returns the exit code.
  int run();

 private:
  // The transaction (generation_transaction.cpp).
  /// Builds everything `next` needs: the plan, or nullopt with every problem in `problems`.
  std::optional<generation_plan> prepare(config::config next, std::vector<std::string>& problems);
  /// Swaps `plan` into the backends, health checks, proxy, metrics, admin and VRRP, in that order.
  void commit(generation_plan plan) noexcept;

  void start();
  void wait_signals();
  void reload();
  void begin_shutdown();
  /// After the anycast withdraw: VRRP hands its VIPs over, then stop_serving.
  void release_vips_then_stop();
  void stop_serving();
  void wait_sessions_then_stop(std::chrono::steady_clock::time_point deadline);
  void finish_shutdown();
  /// Records a rejected reload (log and metric).
  void reload_failed();

  // Binary upgrade, the old process's side (upgrade.cpp): SIGUSR2 starts the successor, which
  // says hello; we send the state; it says ready; we stop accepting and send the sessions; it
  // confirms and we exit. Any failure takes everything back (see docs/design.md).
  void begin_upgrade();
  /// Waits (on the control thread) up to `limit` for the successor's next message.
  void await_successor(std::chrono::milliseconds limit, void (daemon::*next)(upgrade_frame&));
  void on_successor_hello(upgrade_frame& frame);
  void on_successor_ready(upgrade_frame& frame);
  void on_successor_confirmed(upgrade_frame& frame);
  /// Sends the sessions in batches, then the end; false with `error` when the successor is gone.
  bool send_sessions(std::string& error);
  /// Ends the successor and takes back whatever was handed over; logs `why` once.
  void upgrade_failed(const std::string& why);
  void exit_after_upgrade();

  /// Before the proxy starts: the sockmap data path when global.data_path asks for it and the
  /// kernel allows, or the previous process's at an upgrade (data_path.cpp). Throws when
  /// `sockmap` is asked for and cannot be had, or the inherited maps cannot be used.
  void open_data_path();

  // Binary upgrade, the new process's side (takeover.cpp).
  /// Before anything starts: says hello and receives the listening sockets, health and counters.
  void receive_takeover_state();
  /// Once serving on them: takes the sessions and the VRRP state, then confirms.
  void finish_takeover();

  void on_transition(const backend::backend& b, const backend::server_ptr& s, backend::server_state from,
                     backend::server_state to);
  void note_all_down(const backend::backend& b);
  /// Applies on_server_down to servers of `old_set` absent from `new_set`.
  void retire_removed_servers(const backend::backend_set& old_set, const backend::backend_set& new_set);

  // VRRP wiring.
  /// A group for the instances of a config, logging every transition.
  std::unique_ptr<vrrp::group> make_vrrp_group();
  /// Hands the instances' state and effective priority to the metrics and /status.
  void publish_vrrp_status();
  /// Tells the group which backends have no server up (after their first checks).
  void update_vrrp_tracking();

  // Anycast wiring (anycast.cpp).
  /// The device for the first `anycast:` entries of a plan (adopted when taking over).
  std::unique_ptr<anycast::device> prepare_anycast_device(const config::config& next, std::string& error);
  /// Takes the plan's device, if it brings one, and applies the committed config's entries.
  void commit_anycast(std::unique_ptr<anycast::device> device);
  /// Tells the announcer how each backend is doing.
  void update_anycast_tracking();
  /// SIGTERM's first step: the routes go, and serving goes on for the longest withdraw_delay.
  void withdraw_anycast_then(void (daemon::*next)());
  /// Logs a change of one VIP and hands every VIP's state to the metrics and /status.
  void on_anycast_change(const anycast::vip_status& vip, bool removed);
  /// Every few seconds, puts back what someone else removed (`ip route flush table 198`).
  void resync_anycast_periodically();

  options options_;
  command_line command_;
  std::unique_ptr<upgrade_channel> takeover_;  ///< new process: until the hand-over is done
  std::optional<handed_state> inherited_;      ///< new process: what the old one sent first
  vrrp::group::plan_ptr held_vrrp_plan_;       ///< new process: for held_vrrp_group_
  config::config config_;       ///< the committed config (at first: the one to start with)
  bool started_ = false;        ///< a generation has been committed
  boost::asio::io_context control_{1};
  boost::asio::signal_set signals_{control_};
  boost::asio::steady_timer shutdown_timer_{control_};
  boost::asio::steady_timer anycast_resync_timer_{control_};
  std::unique_ptr<predecessor_watch> predecessor_;  ///< new process: until the old one has ended
  /// Old process: while one is in progress. After control_: it waits on it.
  std::unique_ptr<upgrade_attempt> upgrade_;
  metrics::exporter metrics_;
  std::unique_ptr<admin::server> admin_;
  std::chrono::system_clock::time_point loaded_at_;  ///< when the running config was loaded
  const std::chrono::system_clock::time_point started_at_ = std::chrono::system_clock::now();
  std::unique_ptr<proxy::proxy> proxy_;
  std::unique_ptr<health::checker> checker_;
  std::unique_ptr<server_down_policy> down_policy_;
  std::unique_ptr<slow_starter> slow_start_;
  std::unique_ptr<rebalancer> rebalancer_;
  std::unique_ptr<liveness> liveness_;  ///< /livez
  std::shared_ptr<const backend::backend_set> backends_;
  generation::snapshot_ptr generation_;
  std::map<std::string, bool> all_down_;  ///< backends in all_down, to log entry and exit once
  unsigned workers_ = 1;
  bool stopping_ = false;
  /// Null until the config has `anycast:` entries; the device goes last, routes and all.
  std::unique_ptr<anycast::device> anycast_device_;
  std::unique_ptr<anycast::kernel> anycast_kernel_;
  std::unique_ptr<anycast::announcer> anycast_;
  int inherited_anycast_fd_ = -1;  ///< new process: the old one's device, until prepared
  /// New process: the VRRP instances start only once the old one has handed theirs over.
  std::unique_ptr<vrrp::group> held_vrrp_group_;
  std::unique_ptr<vrrp::group> vrrp_;  ///< null without vrrp_instances; destroyed first
};

}  // namespace cplb::app
