#include "instance.hpp"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "cplb/core/log.hpp"
#include "cplb/vrrp/codec.hpp"
#include "cplb/vrrp/priority.hpp"
#include "netlink.hpp"
#include "raw_socket.hpp"

namespace cplb::vrrp::detail {
namespace {

namespace asio = boost::asio;
using std::chrono::steady_clock;

constexpr int max_packets_per_wakeup = 64;  ///< then let other handlers run
constexpr auto mismatch_warning_every = std::chrono::seconds(10);

std::vector<ip_address> vip_addresses(const config::vrrp_instance_config& cfg) {
  std::vector<ip_address> out;
  for (const auto& vip : cfg.virtual_ips) out.push_back(vip.address);
  return out;
}

/// True when the instance's router is IPv6 (its VIPs are of one family).
bool is_v6(const config::vrrp_instance_config& cfg) {
  return !cfg.virtual_ips.empty() && cfg.virtual_ips.front().address.is_v6();
}

interface_info read_interface_of(const config::vrrp_instance_config& cfg) {
  try {
    return read_interface(cfg.interface, vip_addresses(cfg), is_v6(cfg));
  } catch (const std::exception& e) {
    throw std::runtime_error("vrrp instance " + cfg.name + ": " + e.what());
  }
}

settings settings_of(const config::vrrp_instance_config& cfg, const interface_info& interface) {
  settings s;
  s.version = cfg.version;
  s.virtual_router_id = static_cast<std::uint8_t>(cfg.virtual_router_id);
  s.priority = static_cast<std::uint8_t>(cfg.priority);
  s.advert_interval = std::chrono::duration_cast<centiseconds>(cfg.advert_interval);
  s.preempt = cfg.preempt;
  s.primary_ip = interface.primary;
  s.virtual_ips = vip_addresses(cfg);
  return s;
}

/// Opens one socket of an instance, turning std::system_error into the start error.
template <typename Open>
int open_for(const config::vrrp_instance_config& cfg, Open open) {
  try {
    return open();
  } catch (const std::system_error& e) {
    throw std::runtime_error("vrrp instance " + cfg.name + " on " + cfg.interface + ": " + e.what() +
                             (e.code() == std::errc::operation_not_permitted ? " (needs CAP_NET_RAW)" : ""));
  }
}

/// True for an ignored advert that points at a configuration difference between the peers.
bool is_mismatch(cause why) {
  return why == cause::wrong_version || why == cause::interval_mismatch || why == cause::address_mismatch;
}

template <typename... F>
struct overloaded : F... {
  using F::operator()...;
};
template <typename... F>
overloaded(F...) -> overloaded<F...>;

}  // namespace

instance::instance(asio::io_context& io, config::vrrp_instance_config cfg, instance_callbacks callbacks)
    : cfg_(std::move(cfg)),
      callbacks_(std::move(callbacks)),
      v6_(is_v6(cfg_)),
      interface_(read_interface_of(cfg_)),
      machine_(settings_of(cfg_, interface_)),
      multicast_(cfg_.unicast_peers.empty()),
      socket_(io),
      arp_(io),
      link_(io),
      timer_(io),
      garp_timer_(io),
      link_up_(interface_.running) {
  const advert_socket_spec spec{cfg_.interface, interface_.index, multicast_, v6_};
  socket_.assign(asio::generic::raw_protocol(v6_ ? AF_INET6 : AF_INET, ip_protocol),
                 open_for(cfg_, [&] { return open_advert_socket(spec); }));
  arp_.assign(asio::generic::raw_protocol(AF_PACKET, 0), open_for(cfg_, [] { return open_arp_socket(); }));
  link_.assign(open_for(cfg_, [] { return open_link_monitor(); }));
}

void instance::start(const std::set<std::string>& down_backends, state inherited) {
  const bool resume = inherited == state::master;
  if (!resume) remove_stale_vips();
  log::info("vrrp instance starting", {{"instance", cfg_.name},
                                       {"interface", cfg_.interface},
                                       {"primary_ip", interface_.primary.to_string()},
                                       {"virtual_router_id", cfg_.virtual_router_id},
                                       {"version", cfg_.version},
                                       {"mode", multicast_ ? "multicast" : "unicast"},
                                       {"link", link_up_ ? "up" : "down"}});
  set_backends_down(down_backends);  // before resuming, so the first advert has the right priority
  if (!link_up_) feed(events::interface_changed{false});
  feed(resume ? event{events::resume_as_master{}} : event{events::start{}});
  wait_packets();
  wait_link();
}

void instance::remove_stale_vips() {
  for (const auto& vip : cfg_.virtual_ips) {
    unsigned removed = 0;
    if (const auto ec = remove_address(interface_.index, vip.address, vip.prefix_length, removed))
      log_vip_error("vrrp: cannot remove a stale virtual IP", vip, ec);
    else if (removed > 0)
      log::warn("vrrp: removed a stale virtual IP left on the interface",
                {{"instance", cfg_.name}, {"interface", cfg_.interface}, {"vip", vip.text}});
  }
}

bool instance::can_update(const config::vrrp_instance_config& cfg) const {
  auto comparable = cfg;
  comparable.priority = cfg_.priority;
  comparable.track_backends = cfg_.track_backends;
  comparable.track_penalty = cfg_.track_penalty;
  comparable.garp = cfg_.garp;
  return comparable == cfg_;
}

void instance::update(config::vrrp_instance_config cfg, const std::set<std::string>& down_backends) {
  cfg_ = std::move(cfg);
  set_backends_down(down_backends);
}

void instance::set_backends_down(const std::set<std::string>& down_backends) {
  if (stopped_) return;
  const auto wanted = effective_priority_for(down_backends);
  if (wanted != machine_.priority()) feed(events::priority_changed{wanted});
}

std::uint8_t instance::effective_priority_for(const std::set<std::string>& down_backends) const {
  bool any_down = false;
  for (const auto& name : cfg_.track_backends) any_down = any_down || down_backends.count(name) > 0;
  return effective_priority(cfg_.priority, cfg_.track_penalty, any_down);
}

void instance::shutdown(std::function<void()> released) {
  if (stopped_) return released();
  released_ = std::move(released);
  feed(events::shutdown{});
}

void instance::stop() {
  if (stopped_) return;
  released_ = nullptr;
  if (machine_.current() != state::init || machine_.holds_vips()) feed(events::shutdown{});
  if (machine_.holds_vips()) feed(events::shutdown{});  // a second shutdown ends the handover now
  close();
}

state instance::hand_over() {
  close();
  return machine_.current();
}

void instance::close() {
  stopped_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  garp_timer_.cancel();
  socket_.close(ignored);
  arp_.close(ignored);
  link_.close(ignored);
}

instance_status instance::status() const {
  return {cfg_.name, machine_.current(), machine_.priority()};
}

void instance::feed(const event& e) {
  const step s = machine_.handle(e, steady_clock::now());
  log_step(s);
  if (s.why == cause::split_brain) report_split_brain(std::get<events::advert_received>(e).message);
  for (const auto& a : s.actions) perform(a);
  if (s.changed() && callbacks_.on_transition) callbacks_.on_transition(cfg_.name, s.from, s.to, s.why);
  arm_timer();
  if (released_ && machine_.current() == state::init && !machine_.holds_vips()) {
    auto released = std::move(released_);
    released_ = nullptr;
    released();
  }
}

void instance::report_split_brain(const advert& peer) {
  log::warn(v6_ ? "vrrp split brain: another master was heard; reasserting with neighbour advertisements"
                : "vrrp split brain: another master was heard; reasserting with gratuitous ARP",
            {{"instance", cfg_.name}, {"peer", peer.sender.to_string()}, {"peer_priority", peer.priority},
             {"priority", machine_.priority()}});
  if (callbacks_.on_split_brain) callbacks_.on_split_brain(cfg_.name);
}

void instance::log_step(const step& s) {
  if (is_mismatch(s.why)) {
    // A peer configured differently never counts as a master: say so, but not per advert.
    const auto now = steady_clock::now();
    if (!last_mismatch_warning_ || now - *last_mismatch_warning_ >= mismatch_warning_every) {
      last_mismatch_warning_ = now;
      log::warn("vrrp advert ignored: the peer is configured differently",
                {{"instance", cfg_.name}, {"cause", to_string(s.why)}});
    }
    return;
  }
  if (s.why == cause::advert_timer || s.why == cause::master_advert || s.why == cause::wrong_vrid) return;
  if (!log::enabled(log::level::debug)) return;
  std::string actions;
  for (const auto& a : s.actions) actions += (actions.empty() ? "" : ",") + to_string(a);
  log::debug("vrrp step", {{"instance", cfg_.name},
                           {"state", to_string(s.to)},
                           {"cause", to_string(s.why)},
                           {"priority", machine_.priority()},
                           {"actions", actions}});
}

void instance::perform(const action& a) {
  std::visit(overloaded{[this](const send_advert& s) { send(s.message); },
                        [this](const add_vips&) { add_virtual_ips(); },
                        [this](const remove_vips&) { remove_virtual_ips(); },
                        [this](const send_garp&) { start_garp(); }},
             a);
}

void instance::send(const advert& message) {
  std::vector<ip_address> destinations;
  for (const auto& peer : cfg_.unicast_peers)
    if (peer.is_v6() == v6_) destinations.push_back(peer);
  if (multicast_) destinations.push_back(v6_ ? multicast_group_v6 : multicast_group);
  for (const auto& destination : destinations) {
    const auto bytes = encode(message, destination);
    const auto ec =
        send_packet(socket_.native_handle(), bytes, interface_.index, interface_.primary, destination);
    if (ec && !send_failing_)
      log::warn(
          "vrrp advert not sent",
          {{"instance", cfg_.name}, {"destination", destination.to_string()}, {"error", ec.message()}});
    else if (!ec && send_failing_)
      log::info("vrrp adverts sent again", {{"instance", cfg_.name}});
    send_failing_ = static_cast<bool>(ec);
  }
}

void instance::log_vip_error(const char* what, const config::ip_cidr& vip, std::error_code ec) const {
  log::error(what,
             {{"instance", cfg_.name}, {"interface", cfg_.interface}, {"vip", vip.text}, {"error", ec.message()}});
}

void instance::add_virtual_ips() {
  for (const auto& vip : cfg_.virtual_ips) {
    if (const auto ec = add_address(interface_.index, vip.address, vip.prefix_length))
      log_vip_error("vrrp: cannot add a virtual IP", vip, ec);
  }
  log::info("vrrp virtual IPs added",
            {{"instance", cfg_.name}, {"interface", cfg_.interface}, {"count", cfg_.virtual_ips.size()}});
}

void instance::remove_virtual_ips() {
  ++garp_generation_;  // no more gratuitous ARP for addresses we no longer hold
  garp_timer_.cancel();
  for (const auto& vip : cfg_.virtual_ips) {
    unsigned removed = 0;
    if (const auto ec = remove_address(interface_.index, vip.address, vip.prefix_length, removed))
      log_vip_error("vrrp: cannot remove a virtual IP", vip, ec);
  }
  log::info("vrrp virtual IPs removed",
            {{"instance", cfg_.name}, {"interface", cfg_.interface}, {"count", cfg_.virtual_ips.size()}});
}

void instance::start_garp() {
  ++garp_generation_;
  garp_left_ = cfg_.garp.count;
  if (garp_left_ > 0) return garp_tick();
  arm_garp(cfg_.garp.refresh);
}

void instance::arm_garp(std::chrono::steady_clock::duration after) {
  if (after.count() == 0) return;
  garp_timer_.expires_after(after);
  garp_timer_.async_wait(
      [self = shared_from_this(), generation = garp_generation_](const boost::system::error_code& ec) {
        if (!ec && !self->stopped_ && generation == self->garp_generation_) self->garp_tick();
      });
}

void instance::garp_tick() {
  if (machine_.current() != state::master) return;
  // IPv4: gratuitous ARP; IPv6: an unsolicited neighbour advertisement, from our link-local address.
  for (const auto& vip : cfg_.virtual_ips) {
    const auto ec = v6_ ? send_frame(arp_.native_handle(), interface_.index,
                                     neighbour_advert_frame(interface_.mac, interface_.primary, vip.address))
                        : send_frame(arp_.native_handle(), interface_.index,
                                     gratuitous_arp_frame(interface_.mac, vip.address.v4_value()));
    if (ec)
      log::warn(v6_ ? "vrrp neighbour advertisement not sent" : "vrrp gratuitous ARP not sent",
                {{"instance", cfg_.name}, {"vip", vip.text}, {"error", ec.message()}});
  }
  log::debug(v6_ ? "vrrp neighbour advertisements sent" : "vrrp gratuitous ARP sent",
             {{"instance", cfg_.name}, {"count", cfg_.virtual_ips.size()}});
  if (garp_left_ > 0) --garp_left_;
  arm_garp(garp_left_ > 0 ? cfg_.garp.interval : cfg_.garp.refresh);
}

void instance::arm_timer() {
  if (stopped_) return;
  const auto deadline = machine_.next_deadline();
  if (deadline == armed_) return;
  armed_ = deadline;
  ++timer_generation_;
  if (!deadline) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(*deadline);
  timer_.async_wait(
      [self = shared_from_this(), generation = timer_generation_](const boost::system::error_code& ec) {
        if (ec || self->stopped_ || generation != self->timer_generation_) return;
        self->armed_.reset();
        self->feed(events::timer_expired{});
      });
}

void instance::wait_packets() {
  socket_.async_wait(asio::socket_base::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       if (ec || self->stopped_) return;
                       self->read_packets();
                       if (!self->stopped_) self->wait_packets();
                     });
}

void instance::read_packets() {
  for (int i = 0; i < max_packets_per_wakeup && !stopped_; ++i) {
    received_packet packet;
    const auto ec = receive_packet(socket_.native_handle(), packet_buffer_, packet);
    if (ec == std::errc::resource_unavailable_try_again || ec == std::errc::operation_would_block) return;
    if (ec) {
      log::warn("vrrp receive failed", {{"instance", cfg_.name}, {"error", ec.message()}});
      return;
    }
    on_packet(packet);
  }
}

void instance::on_packet(const received_packet& packet) {
  if (packet.ifindex != 0 && packet.ifindex != interface_.index) return drop("wrong_interface", {});
  // The kernel strips the IPv6 header and reports its fields; an IPv4 raw socket delivers it.
  ip_address source = packet.source;
  ip_address destination = packet.destination;
  int ttl = packet.hop_limit;
  std::span<const std::uint8_t> message = packet.bytes;
  if (!v6_) {
    const auto ip = parse_ipv4_packet(packet.bytes);
    if (!ip.ok()) return drop(to_string(ip.error), {});
    source = ip.value.source;
    destination = ip.value.destination;
    ttl = ip.value.ttl;
    message = ip.value.payload;
  }
  // RFC 5798 5.1.1.3 and 5.1.2.3: TTL (hop limit) 255 proves the sender is on the link. keepalived
  // skips the check for unicast, where peers may be routed; cplb keeps it unless unicast_ttl_check
  // is off, so that an off-link host cannot forge a peer's source address.
  if ((multicast_ || cfg_.unicast_ttl_check) && ttl != required_ttl) return drop("bad_ttl", source);
  // In unicast mode only the listed peers speak for this router. A stranger's advert (any host
  // that can send IP protocol 112, a pod with CAP_NET_RAW) is dropped before it touches any
  // state or timer, so forgeries cannot take the VIP or keep a master silent.
  if (!multicast_ && std::find(cfg_.unicast_peers.begin(), cfg_.unicast_peers.end(), source) ==
                         cfg_.unicast_peers.end())
    return drop("not_a_peer", source);
  auto decoded = decode(message, source, destination);
  if (!decoded.ok() && decoded.error == decode_error::bad_auth_type) {
    // An old keepalived with `authentication { auth_type PASS }`: without this warning the
    // pair would split brain in silence. Not per advert.
    const auto now = steady_clock::now();
    if (!last_auth_warning_ || now - *last_auth_warning_ >= mismatch_warning_every) {
      last_auth_warning_ = now;
      log::warn("vrrp advert ignored: it uses v2 authentication, which cplb does not support "
                "(remove `authentication` from the peer's keepalived.conf)",
                {{"instance", cfg_.name}, {"source", source.to_string()}});
    }
  }
  if (!decoded.ok()) return drop(to_string(decoded.error), source);
  feed(events::advert_received{std::move(decoded.value)});
}

void instance::drop(const char* reason, std::optional<ip_address> source) {
  if (callbacks_.on_drop) callbacks_.on_drop(cfg_.name, reason);
  log::debug("vrrp packet dropped", {{"instance", cfg_.name},
                                     {"reason", reason},
                                     {"source", source ? source->to_string() : std::string("unknown")}});
}

void instance::wait_link() {
  link_.async_wait(asio::posix::descriptor_base::wait_read,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     if (ec || self->stopped_) return;
                     self->read_link();
                     if (!self->stopped_) self->wait_link();
                   });
}

void instance::read_link() {
  alignas(nlmsghdr) std::array<std::uint8_t, 8192> buffer{};
  std::optional<bool> latest;
  for (int i = 0; i < max_packets_per_wakeup; ++i) {
    const ssize_t n = ::recv(link_.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0 && errno == ENOBUFS) {  // events were lost: ask the interface itself
      latest = interface_running(cfg_.interface);
      continue;
    }
    if (n <= 0) break;
    if (const auto state =
            link_state_in(std::span(buffer).first(static_cast<std::size_t>(n)), interface_.index))
      latest = state;
  }
  if (!latest || *latest == link_up_) return;
  link_up_ = *latest;
  if (link_up_)
    log::info("vrrp interface up", {{"instance", cfg_.name}, {"interface", cfg_.interface}});
  else
    log::warn("vrrp interface down", {{"instance", cfg_.name}, {"interface", cfg_.interface}});
  feed(events::interface_changed{link_up_});
}

}  // namespace cplb::vrrp::detail
