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

/// One instance as hand_over() left it, for the process that takes it over (binary upgrade).
struct handed_instance {
  std::string name;
  state current = state::init;
};

/// Told of every state change (control thread).
struct group_observer {
  std::function<void(const std::string& instance, state from, state to, cause why)> on_transition;
  /// A packet was dropped before the state machine saw it (`not_a_peer`, `bad_ttl`, ...).
  std::function<void(const std::string& instance, const char* reason)> on_drop;
  /// A master heard another master of lower priority it did not expect (cause::split_brain).
  std::function<void(const std::string& instance)> on_split_brain;
};

/// The VRRP instances of a config, run on the control thread: raw IPPROTO_VRRP sockets, VIPs
/// through netlink, gratuitous ARP, interface link state. Knows nothing of backends: the daemon
/// tells it which tracked backends are down.
class group {
 public:
  /// The instances a reload starts, changes or stops, with the sockets of the new ones open.
  /// Made by prepare; dropping it closes those sockets and changes nothing.
  class plan;
  struct plan_deleter {
    void operator()(plan* p) const noexcept;
  };
  using plan_ptr = std::unique_ptr<plan, plan_deleter>;

  /// No instance yet; everything runs on `io`, and `observer` hears every transition.
  group(boost::asio::io_context& io, group_observer observer);
  /// Stops every instance at once (VIPs released) without telling the observer.
  ~group();
  group(const group&) = delete;
  group& operator=(const group&) = delete;

  /// Reads the interfaces and opens the sockets of every instance of `instances` that is new or
  /// changed beyond what can be applied in place, touching nothing live. Null with `error`
  /// naming the instance, the interface and why when one cannot be opened.
  plan_ptr prepare(const std::vector<config::vrrp_instance_config>& instances, std::string& error);

  /// Applies a plan from prepare: stops removed instances (a master advertises priority 0 and
  /// releases its VIPs), applies a change of priority, tracking or garp in place, and starts new
  /// and changed instances, each removing stale copies of its VIPs first (say left by a
  /// SIGKILLed predecessor).
  void commit(plan_ptr plan) noexcept;

  /// The backends that have no healthy server now; instances tracking any of them run at
  /// priority - track_penalty, advertised at once.
  void set_backends_down(const std::set<std::string>& down_backends);

  /// Graceful stop: each master sends priority 0 but keeps its VIPs (and cplb keeps serving)
  /// until it hears the peer's advert as master, bounded by the master-down interval; then the
  /// VIPs are released and `done` is called once. Backups stop at once.
  void shutdown(std::function<void()> done);

  /// Binary upgrade, old process: stops every instance at once, leaving everything to the new
  /// process: no priority-0 advert, the VIPs stay on the interface, timers and sockets go, the
  /// observer hears nothing (an instance in a graceful shutdown's handover stops too: `done` is
  /// never called). Returns each instance's name and state. The group then runs nothing and
  /// prepare fails until take_back().
  std::vector<handed_instance> hand_over();

  /// Binary upgrade, new process, before the first commit: that commit starts an instance named
  /// in `states` as master directly as master (cause::inherited): no election, its VIPs kept
  /// (not removed as stale) or added when missing, its first advert sent at once. Any other
  /// state, or a name not in `states`, starts as usual; names not in the config are ignored.
  /// Ignored after the first commit, which consumes the states.
  void inherit(std::vector<handed_instance> states);

  /// Rollback of a failed upgrade, old process, after hand_over(): restarts the instances it
  /// stopped, from the configs they had, inheriting `states` as inherit() does (pass what
  /// hand_over returned). An instance whose interface or sockets cannot be opened again is
  /// logged and stays stopped. Nothing without a hand_over() before.
  void take_back(std::vector<handed_instance> states);

  /// The instances and their state.
  std::vector<instance_status> status() const;

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cplb::vrrp
