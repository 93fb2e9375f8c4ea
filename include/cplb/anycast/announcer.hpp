#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cplb/anycast/kernel.hpp"
#include "cplb/anycast/settings.hpp"

namespace cplb::anycast {

/// What the announcer knows of a tracked backend's health.
enum class backend_health {
  unchecked,  ///< its servers have not all been checked yet
  serving,    ///< a server is up
  down,       ///< checked, and no server is up
};

/// One VIP of one announcement, as /status and the metrics show it.
struct vip_status {
  std::string name;     ///< the announcement
  ip_address vip;
  unsigned table = 0;
  bool announced = false;  ///< the route is in the table
  std::string reason;      ///< why it is not (empty while announced)
  friend bool operator==(const vip_status&, const vip_status&) = default;
};

/// Keeps the kernel in line with the announcements: every VIP local through cplb's device,
/// and a route in its table while the announcement serves: cplb is not stopping and each tracked
/// backend has a server up. Routes of cplb's protocol that nothing announces (left by an earlier
/// process, or by a removed announcement) are removed. Runs on the control thread.
class announcer {
 public:
  /// Called once per change of a VIP's state (announced or not, and why), and when a VIP leaves.
  using observer = std::function<void(const vip_status& now, bool removed)>;

  announcer(kernel& k, observer on_change);

  /// Replaces the announcements (start, reload, takeover) and applies them.
  void configure(std::vector<announcement_settings> announcements);
  /// The health of the backends (those not named count as unchecked), applied at once once
  /// configure() has been called.
  void set_backend_health(std::map<std::string, backend_health> health);
  /// Withdraws every route for good, with `reason` (shutting down); the VIPs stay local.
  void withdraw_all(const std::string& reason);
  /// Applies the state again (after another process may have changed the table); returns how
  /// many of the routes it had applied before (local or announcing) were found gone and put
  /// back since the last call.
  std::size_t resync();

  /// Every VIP of every announcement, in configuration order.
  const std::vector<vip_status>& status() const { return status_; }

 private:
  /// Why `a` must not be announced now; empty when it may.
  std::string withdraw_reason(const announcement_settings& a) const;
  /// Brings the local and announcing routes in line, then reports what changed.
  void apply();
  /// Every VIP local, and no other; those that fail go into `failed_vips` with why.
  void apply_locals(std::map<ip_address, std::string>& failed_vips);
  /// Routes of `table`: the VIPs of `wanted` are added, every other one of cplb's removed.
  void apply_table(unsigned table, const std::set<ip_address>& wanted,
                   std::map<ip_address, std::string>& failed_vips);

  kernel& kernel_;
  observer on_change_;
  std::vector<announcement_settings> announcements_;
  std::map<std::string, backend_health> health_;
  bool configured_ = false;
  std::string stopping_;               ///< the reason of withdraw_all, once called
  std::set<unsigned> tables_;          ///< tables cplb put routes in (cleaned when unused)
  std::vector<vip_status> status_;
  std::size_t put_back_ = 0;           ///< applied before, found gone and put back
};

}  // namespace cplb::anycast
