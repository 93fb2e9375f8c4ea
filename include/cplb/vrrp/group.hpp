#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cplb/config/config.hpp"
#include "cplb/vrrp/state.hpp"

namespace boost::asio {
class io_context;
}

namespace cplb::vrrp {

/// What /status and the metrics show of one instance.
struct instance_status {
  std::string name;
  state current = state::init;
  unsigned effective_priority = 0;
};

/// Told of every state change (control thread).
struct group_listener {
  std::function<void(const std::string& instance, state from, state to, cause why)> on_transition;
};

/// The VRRP instances of a config, run on the control thread: raw IPPROTO_VRRP sockets, VIPs
/// through netlink, gratuitous ARP, interface link state. Knows nothing of backends: the daemon
/// tells it which tracked backends are down.
class group {
 public:
  /// No instance yet; everything runs on `io`, and `listener` hears every transition.
  group(boost::asio::io_context& io, group_listener listener);
  /// Stops every instance at once (VIPs released) without telling the listener.
  ~group();
  group(const group&) = delete;
  group& operator=(const group&) = delete;

  /// Opens the sockets and starts every instance; removes stale VIPs of these instances left on
  /// the interfaces (say by a SIGKILLed predecessor). Throws std::runtime_error naming the
  /// instance, the interface and why (the daemon exits 2).
  void start(const std::vector<config::vrrp_instance_config>& instances);

  /// Reload: starts new instances, stops removed ones (a master advertises priority 0 and releases
  /// its VIPs), applies a change of priority, tracking or garp in place, and restarts an instance
  /// whose other settings changed. Returns false with `error` set, changing nothing, when a new or
  /// changed instance cannot open its interface or sockets.
  bool reconfigure(const std::vector<config::vrrp_instance_config>& instances, std::string& error);

  /// The backends that have no healthy server now; instances tracking any of them run at
  /// priority - track_penalty, advertised at once.
  void set_backends_down(const std::set<std::string>& down_backends);

  /// Graceful stop: each master sends priority 0 but keeps its VIPs (and cplb keeps serving)
  /// until it hears the peer's advert as master, bounded by the master-down interval; then the
  /// VIPs are released and `done` is called once. Backups stop at once.
  void shutdown(std::function<void()> done);

  /// The instances and their state.
  std::vector<instance_status> status() const;

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cplb::vrrp
