#pragma once
#include <boost/asio/generic/raw_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "cplb/config/config.hpp"
#include "cplb/vrrp/coupled_routers.hpp"
#include "cplb/vrrp/group.hpp"
#include "cplb/vrrp/state_machine.hpp"
#include "interface.hpp"
#include "raw_socket.hpp"

namespace cplb::vrrp::detail {

/// Told of every state change: instance name, from, to, why.
using transition_callback = std::function<void(const std::string&, state, state, cause)>;
/// Told of every packet dropped before it reached the state machine: instance name, reason.
using drop_callback = std::function<void(const std::string&, const char*)>;
/// Told of every split brain seen: instance name.
using split_brain_callback = std::function<void(const std::string&)>;

/// What an instance tells its group.
struct instance_callbacks {
  transition_callback on_transition;
  drop_callback on_drop;
  split_brain_callback on_split_brain;
};

/// One running VRRP instance: its virtual routers (one per family of its VIPs, kept in one state
/// by coupled_routers) plus what they need from the kernel, all on the control thread: a raw
/// socket per family, the link monitor, one timer for the earliest deadline, the VIPs, gratuitous
/// ARP and neighbour advertisements. Async handlers hold the instance alive and do nothing once it
/// is stopped.
class instance : public std::enable_shared_from_this<instance> {
 public:
  /// Reads the interface and opens the sockets, touching nothing yet; throws std::runtime_error
  /// naming the instance, the interface and why.
  instance(boost::asio::io_context& io, config::vrrp_instance_config cfg, instance_callbacks callbacks);

  /// Removes stale copies of its VIPs from the interface, then starts: backup, or fault while the
  /// link is down. When a predecessor process left it `inherited` master, it resumes as master
  /// instead, keeping the VIPs it finds (they are live, not stale).
  void start(const std::set<std::string>& down_backends, state inherited);

  /// True when `cfg` differs from the running config only in what update() can apply in place:
  /// priority, tracking and gratuitous ARP.
  bool can_update(const config::vrrp_instance_config& cfg) const;
  /// Applies such a config without a restart.
  void update(config::vrrp_instance_config cfg, const std::set<std::string>& down_backends);

  /// Lowers or restores the priority for the tracked backends in `down_backends`.
  void set_backends_down(const std::set<std::string>& down_backends);

  /// Graceful stop (see group::shutdown); `released` runs once the VIPs are gone.
  void shutdown(std::function<void()> released);
  /// Stops at once: a master advertises priority 0 and releases its VIPs; sockets close.
  void stop();
  /// Stops at once for a successor process: nothing sent, the VIPs stay, nobody told; sockets
  /// close. Returns the state it was in.
  state hand_over();

  /// The running config.
  const config::vrrp_instance_config& config() const { return cfg_; }
  /// What /status shows.
  instance_status status() const;

 private:
  /// The kernel side of one virtual router: one family's VIPs, peers, address and socket.
  struct router_io {
    bool v6 = false;                      ///< ff02::12 from the link-local address, NAs
    ip_address primary;                   ///< advert source and tie-break
    std::vector<config::ip_cidr> vips;    ///< of this family, in config order
    std::vector<ip_address> peers;        ///< of this family; empty = multicast
    boost::asio::generic::raw_protocol::socket socket;  ///< raw IPPROTO_VRRP
    bool send_failing = false;            ///< log a failing send once, not per advert
  };

  /// Feeds `e` to router `router` (nullopt: to all) and performs what they return.
  void feed(std::optional<std::size_t> router, const event& e);
  /// Logs and performs the steps, tells the group, rearms the timer.
  void apply(const std::vector<coupled_routers::router_step>& steps, const event* cause_event);
  /// Cancels the timers and closes the sockets; nothing runs after it.
  void close();
  void perform(std::size_t router, const action& a);
  void log_step(std::size_t router, const step& s);
  /// Logs the split brain an advert from `peer` revealed, and tells the group (once for both
  /// families, which see the same one).
  void report_split_brain(std::size_t router, const advert& peer);
  /// Removes copies of its VIPs left on the interface, say by a SIGKILLed predecessor.
  void remove_stale_vips();
  void send(router_io& r, const advert& message);
  void add_virtual_ips(const router_io& r);
  void log_vip_error(const char* what, const config::ip_cidr& vip, std::error_code ec) const;
  void remove_virtual_ips(const router_io& r);
  void start_garp();
  void garp_tick();
  /// Runs garp_tick after `after`; nothing when it is zero (no refresh configured).
  void arm_garp(std::chrono::steady_clock::duration after);
  void arm_timer();
  void wait_packets(std::size_t router);
  void read_packets(std::size_t router);
  void on_packet(std::size_t router, const received_packet& packet);
  void drop(const char* reason, std::optional<ip_address> source);
  void wait_link();
  void read_link();
  std::uint8_t effective_priority_for(const std::set<std::string>& down_backends) const;

  config::vrrp_instance_config cfg_;
  instance_callbacks callbacks_;
  interface_info interface_;     ///< index, MAC, link state (the primary address is per router)
  std::vector<router_io> io_;    ///< IPv4 first, then IPv6: the indexes of machines_
  coupled_routers machines_;
  bool multicast_;
  boost::asio::generic::raw_protocol::socket arp_;     ///< AF_PACKET, send only: ARP and NA frames
  boost::asio::posix::stream_descriptor link_;         ///< netlink RTMGRP_LINK
  boost::asio::steady_timer timer_;                    ///< the routers' earliest deadline
  boost::asio::steady_timer garp_timer_;               ///< announcement repeats and refresh
  std::optional<state_machine::time_point> armed_;     ///< the deadline timer_ waits for
  unsigned timer_generation_ = 0;                      ///< stale timer handlers compare it
  unsigned garp_generation_ = 0;                       ///< likewise for garp_timer_
  unsigned garp_left_ = 0;                             ///< repeats left in the current burst
  bool link_up_;
  bool stopped_ = false;
  std::optional<std::chrono::steady_clock::time_point> last_mismatch_warning_;
  std::optional<std::chrono::steady_clock::time_point> last_auth_warning_;
  std::optional<std::chrono::steady_clock::time_point> last_split_brain_;
  std::function<void()> released_;                  ///< set by shutdown()
  std::array<std::uint8_t, 4096> packet_buffer_{};  ///< larger than any VRRP packet
};

}  // namespace cplb::vrrp::detail
