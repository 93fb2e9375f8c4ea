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

#include "cplb/config/config.hpp"
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

/// One running VRRP instance: the pure state machine plus what it needs from the kernel, all on
/// the control thread: its raw socket, its link monitor, its timer, its VIPs and gratuitous ARP.
/// Async handlers hold the instance alive and do nothing once it is stopped.
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
  void feed(const event& e);
  /// Logs the split brain an advert from `peer` revealed, and tells the group.
  void report_split_brain(const advert& peer);
  /// Cancels the timers and closes the sockets; nothing runs after it.
  void close();
  void perform(const action& a);
  void log_step(const step& s);
  /// Removes copies of its VIPs left on the interface, say by a SIGKILLed predecessor.
  void remove_stale_vips();
  void send(const advert& message);
  void add_virtual_ips();
  void log_vip_error(const char* what, const config::ip_cidr& vip, std::error_code ec) const;
  void remove_virtual_ips();
  void start_garp();
  void garp_tick();
  /// Runs garp_tick after `after`; nothing when it is zero (no refresh configured).
  void arm_garp(std::chrono::steady_clock::duration after);
  void arm_timer();
  void wait_packets();
  void read_packets();
  void on_packet(const received_packet& packet);
  void drop(const char* reason, std::optional<ip_address> source);
  void wait_link();
  void read_link();
  std::uint8_t effective_priority_for(const std::set<std::string>& down_backends) const;

  config::vrrp_instance_config cfg_;
  instance_callbacks callbacks_;
  bool v6_;  ///< an IPv6 router: ff02::12 from the link-local address, neighbour advertisements
  interface_info interface_;
  state_machine machine_;
  bool multicast_;
  boost::asio::generic::raw_protocol::socket socket_;  ///< raw IPPROTO_VRRP, of the VIPs' family
  boost::asio::generic::raw_protocol::socket arp_;     ///< AF_PACKET, send only: ARP or NA frames
  boost::asio::posix::stream_descriptor link_;         ///< netlink RTMGRP_LINK
  boost::asio::steady_timer timer_;                    ///< the state machine's next deadline
  boost::asio::steady_timer garp_timer_;               ///< gratuitous ARP repeats and refresh
  std::optional<state_machine::time_point> armed_;     ///< the deadline timer_ waits for
  unsigned timer_generation_ = 0;                      ///< stale timer handlers compare it
  unsigned garp_generation_ = 0;                       ///< likewise for garp_timer_
  unsigned garp_left_ = 0;                             ///< repeats left in the current burst
  bool link_up_;
  bool stopped_ = false;
  bool send_failing_ = false;  ///< log a failing send once, not per advert
  std::optional<std::chrono::steady_clock::time_point> last_mismatch_warning_;
  std::optional<std::chrono::steady_clock::time_point> last_auth_warning_;
  std::function<void()> released_;                  ///< set by shutdown()
  std::array<std::uint8_t, 4096> packet_buffer_{};  ///< larger than any VRRP packet
};

}  // namespace cplb::vrrp::detail
