#include "instance.hpp"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "cplb/core/log.hpp"
#include "cplb/vrrp/codec.hpp"
#include "cplb/vrrp/neighbour_advert.hpp"
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

/// The families of the VIPs, IPv4 first: false for IPv4, true for IPv6.
std::vector<bool> families_of(const config::vrrp_instance_config& cfg) {
  std::vector<bool> out;
  for (const bool v6 : {false, true})
    if (std::any_of(cfg.virtual_ips.begin(), cfg.virtual_ips.end(),
                    [v6](const config::ip_cidr& vip) { return vip.address.is_v6() == v6; }))
      out.push_back(v6);
  return out;
}

interface_info read_interface_of(const config::vrrp_instance_config& cfg, bool v6) {
  try {
    return read_interface(cfg.interface, vip_addresses(cfg), v6);
  } catch (const std::exception& e) {
    throw std::runtime_error("vrrp instance " + cfg.name + ": " + e.what());
  }
}

const char* family_name(bool v6) { return v6 ? "ipv6" : "ipv4"; }

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
      interface_(read_interface_of(cfg_, families_of(cfg_).front())),
      io_([&] {
        std::vector<router_io> routers;
        for (const bool v6 : families_of(cfg_)) {
          const auto primary = v6 == interface_.primary.is_v6() ? interface_.primary : read_interface_of(cfg_, v6).primary;
          router_io r{v6, primary, {}, {}, asio::generic::raw_protocol::socket(io), false};
          for (const auto& vip : cfg_.virtual_ips)
            if (vip.address.is_v6() == v6) r.vips.push_back(vip);
          for (const auto& peer : cfg_.unicast_peers)
            if (peer.is_v6() == v6) r.peers.push_back(peer);
          routers.push_back(std::move(r));
        }
        return routers;
      }()),
      machines_([&] {
        std::vector<settings> routers;
        for (const auto& r : io_) {
          settings s;
          s.version = cfg_.version;
          s.virtual_router_id = static_cast<std::uint8_t>(cfg_.virtual_router_id);
          s.priority = static_cast<std::uint8_t>(cfg_.priority);
          s.advert_interval = std::chrono::duration_cast<centiseconds>(cfg_.advert_interval);
          s.preempt = cfg_.preempt;
          s.primary_ip = r.primary;
          for (const auto& vip : r.vips) s.virtual_ips.push_back(vip.address);
          routers.push_back(std::move(s));
        }
        return coupled_routers(std::move(routers));
      }()),
      multicast_(cfg_.unicast_peers.empty()),
      arp_(io),
      link_(io),
      timer_(io),
      garp_timer_(io),
      link_up_(interface_.running) {
  for (auto& r : io_) {
    const advert_socket_spec spec{cfg_.interface, interface_.index, multicast_, r.v6};
    r.socket.assign(asio::generic::raw_protocol(r.v6 ? AF_INET6 : AF_INET, ip_protocol),
                    open_for(cfg_, [&] { return open_advert_socket(spec); }));
  }
  arp_.assign(asio::generic::raw_protocol(AF_PACKET, 0), open_for(cfg_, [] { return open_arp_socket(); }));
  link_.assign(open_for(cfg_, [] { return open_link_monitor(); }));
}

void instance::start(const std::set<std::string>& down_backends, state inherited) {
  const bool resume = inherited == state::master;
  if (!resume) remove_stale_vips();
  for (const auto& r : io_)
    log::info("vrrp instance starting", {{"instance", cfg_.name},
                                         {"interface", cfg_.interface},
                                         {"primary_ip", r.primary.to_string()},
                                         {"virtual_router_id", cfg_.virtual_router_id},
                                         {"version", cfg_.version},
                                         {"mode", multicast_ ? "multicast" : "unicast"},
                                         {"link", link_up_ ? "up" : "down"},
                                         {"family", family_name(r.v6)}});
  set_backends_down(down_backends);  // before resuming, so the first advert has the right priority
  if (!link_up_) feed(std::nullopt, events::interface_changed{false});
  feed(std::nullopt, resume ? event{events::resume_as_master{}} : event{events::start{}});
  // What the sockets queued since they opened raised no readiness a wait would see (Asio waits
  // on edges): read it now, or an advert would wait for the next packet and be stale by then.
  for (std::size_t i = 0; i < io_.size(); ++i) {
    read_packets(i);
    if (!stopped_) wait_packets(i);
  }
  read_link();
  if (!stopped_) wait_link();
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
  if (wanted != machines_.priority()) feed(std::nullopt, events::priority_changed{wanted});
}

std::uint8_t instance::effective_priority_for(const std::set<std::string>& down_backends) const {
  bool any_down = false;
  for (const auto& name : cfg_.track_backends) any_down = any_down || down_backends.count(name) > 0;
  return effective_priority(cfg_.priority, cfg_.track_penalty, any_down);
}

void instance::shutdown(std::function<void()> released) {
  if (stopped_) return released();
  released_ = std::move(released);
  feed(std::nullopt, events::shutdown{});
}

void instance::stop() {
  if (stopped_) return;
  released_ = nullptr;
  feed(std::nullopt, events::shutdown{});  // a master advertises priority 0 and hands over...
  if (machines_.holds_vips()) feed(std::nullopt, events::shutdown{});  // ...which a second one ends now
  close();
}

state instance::hand_over() {
  close();
  return machines_.current();
}

void instance::close() {
  stopped_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  garp_timer_.cancel();
  for (auto& r : io_) r.socket.close(ignored);
  arp_.close(ignored);
  link_.close(ignored);
}

instance_status instance::status() const {
  return {cfg_.name, machines_.current(), machines_.priority()};
}

void instance::feed(std::optional<std::size_t> router, const event& e) {
  apply(machines_.handle(router, e, steady_clock::now()), &e);
}

void instance::apply(const std::vector<coupled_routers::router_step>& steps, const event* cause_event) {
  for (const auto& [router, s] : steps) {
    log_step(router, s);
    if (s.why == cause::split_brain && cause_event)
      report_split_brain(router, std::get<events::advert_received>(*cause_event).message);
    for (const auto& a : s.actions) perform(router, a);
    // The instance's state is its first router's: the others follow it within the same steps.
    if (router == 0 && s.changed() && callbacks_.on_transition)
      callbacks_.on_transition(cfg_.name, s.from, s.to, s.why);
  }
  arm_timer();
  if (released_ && machines_.current() == state::init && !machines_.holds_vips()) {
    auto released = std::move(released_);
    released_ = nullptr;
    released();
  }
}

void instance::report_split_brain(std::size_t router, const advert& peer) {
  const auto now = steady_clock::now();
  const auto once_within = machines_.router(router).master_down_interval();
  if (last_split_brain_ && now - *last_split_brain_ < once_within) return;  // the other family's
  last_split_brain_ = now;
  log::warn(io_[router].v6
                ? "vrrp split brain: another master was heard; reasserting with neighbour advertisements"
                : "vrrp split brain: another master was heard; reasserting with gratuitous ARP",
            {{"instance", cfg_.name}, {"peer", peer.sender.to_string()}, {"peer_priority", peer.priority},
             {"priority", machines_.priority()}});
  if (callbacks_.on_split_brain) callbacks_.on_split_brain(cfg_.name);
}

void instance::log_step(std::size_t router, const step& s) {
  if (is_mismatch(s.why)) {
    // A peer configured differently never counts as a master: say so, but not per advert.
    const auto now = steady_clock::now();
    if (!last_mismatch_warning_ || now - *last_mismatch_warning_ >= mismatch_warning_every) {
      last_mismatch_warning_ = now;
      log::warn("vrrp advert ignored: the peer is configured differently",
                {{"instance", cfg_.name}, {"cause", to_string(s.why)}, {"family", family_name(io_[router].v6)}});
    }
    return;
  }
  if (s.why == cause::advert_timer || s.why == cause::master_advert || s.why == cause::wrong_vrid) return;
  if (s.why == cause::sibling && !s.changed()) return;  // already where the other family went
  if (!log::enabled(log::level::debug)) return;
  std::string actions;
  for (const auto& a : s.actions) actions += (actions.empty() ? "" : ",") + to_string(a);
  log::debug("vrrp step", {{"instance", cfg_.name},
                           {"state", to_string(s.to)},
                           {"cause", to_string(s.why)},
                           {"priority", machines_.router(router).priority()},
                           {"actions", actions},
                           {"family", family_name(io_[router].v6)}});
}

void instance::perform(std::size_t router, const action& a) {
  auto& r = io_[router];
  std::visit(overloaded{[&](const send_advert& s) { send(r, s.message); },
                        [&](const add_vips&) { add_virtual_ips(r); },
                        [&](const remove_vips&) { remove_virtual_ips(r); },
                        [this](const send_garp&) { start_garp(); }},
             a);
}

void instance::send(router_io& r, const advert& message) {
  std::vector<ip_address> destinations = r.peers;
  if (multicast_) destinations.push_back(r.v6 ? multicast_group_v6 : multicast_group);
  for (const auto& destination : destinations) {
    const auto bytes = encode(message, destination);
    const auto ec = send_packet(r.socket.native_handle(), bytes, interface_.index, r.primary, destination);
    if (ec && !r.send_failing)
      log::warn(
          "vrrp advert not sent",
          {{"instance", cfg_.name}, {"destination", destination.to_string()}, {"error", ec.message()}});
    else if (!ec && r.send_failing)
      log::info("vrrp adverts sent again", {{"instance", cfg_.name}, {"family", family_name(r.v6)}});
    r.send_failing = static_cast<bool>(ec);
  }
}

void instance::log_vip_error(const char* what, const config::ip_cidr& vip, std::error_code ec) const {
  log::error(what,
             {{"instance", cfg_.name}, {"interface", cfg_.interface}, {"vip", vip.text}, {"error", ec.message()}});
}

void instance::add_virtual_ips(const router_io& r) {
  for (const auto& vip : r.vips) {
    if (const auto ec = add_address(interface_.index, vip.address, vip.prefix_length))
      log_vip_error("vrrp: cannot add a virtual IP", vip, ec);
  }
  log::info("vrrp virtual IPs added", {{"instance", cfg_.name},
                                       {"interface", cfg_.interface},
                                       {"count", r.vips.size()},
                                       {"family", family_name(r.v6)}});
}

void instance::remove_virtual_ips(const router_io& r) {
  bool any_master = false;
  for (std::size_t i = 0; i < machines_.size(); ++i) any_master = any_master || machines_.router(i).holds_vips();
  if (!any_master) {  // no more announcements for addresses we no longer hold
    ++garp_generation_;
    garp_timer_.cancel();
  }
  for (const auto& vip : r.vips) {
    unsigned removed = 0;
    if (const auto ec = remove_address(interface_.index, vip.address, vip.prefix_length, removed))
      log_vip_error("vrrp: cannot remove a virtual IP", vip, ec);
  }
  log::info("vrrp virtual IPs removed", {{"instance", cfg_.name},
                                         {"interface", cfg_.interface},
                                         {"count", r.vips.size()},
                                         {"family", family_name(r.v6)}});
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
  bool sent = false;
  for (std::size_t i = 0; i < io_.size(); ++i) {
    if (machines_.router(i).current() != state::master) continue;
    const auto& r = io_[i];
    // IPv4: gratuitous ARP; IPv6: an unsolicited neighbour advertisement, from the link-local address.
    for (const auto& vip : r.vips) {
      const auto ec = r.v6 ? send_frame(arp_.native_handle(), interface_.index,
                                        neighbour_advert_frame(interface_.mac, r.primary, vip.address))
                           : send_frame(arp_.native_handle(), interface_.index,
                                        gratuitous_arp_frame(interface_.mac, vip.address.v4_value()));
      if (ec)
        log::warn(r.v6 ? "vrrp neighbour advertisement not sent" : "vrrp gratuitous ARP not sent",
                  {{"instance", cfg_.name}, {"vip", vip.text}, {"error", ec.message()}});
    }
    log::debug(r.v6 ? "vrrp neighbour advertisements sent" : "vrrp gratuitous ARP sent",
               {{"instance", cfg_.name}, {"count", r.vips.size()}});
    sent = true;
  }
  if (!sent) return;
  if (garp_left_ > 0) --garp_left_;
  arm_garp(garp_left_ > 0 ? cfg_.garp.interval : cfg_.garp.refresh);
}

void instance::arm_timer() {
  if (stopped_) return;
  const auto deadline = machines_.next_deadline();
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
        self->apply(self->machines_.expire(steady_clock::now()), nullptr);
      });
}

void instance::wait_packets(std::size_t router) {
  io_[router].socket.async_wait(asio::socket_base::wait_read,
                                [self = shared_from_this(), router](const boost::system::error_code& ec) {
                                  if (ec || self->stopped_) return;
                                  self->read_packets(router);
                                  if (!self->stopped_) self->wait_packets(router);
                                });
}

void instance::read_packets(std::size_t router) {
  for (int i = 0; i < max_packets_per_wakeup && !stopped_; ++i) {
    received_packet packet;
    const auto ec = receive_packet(io_[router].socket.native_handle(), packet_buffer_, packet);
    if (ec == std::errc::resource_unavailable_try_again || ec == std::errc::operation_would_block) return;
    if (ec) {
      log::warn("vrrp receive failed", {{"instance", cfg_.name}, {"error", ec.message()}});
      return;
    }
    on_packet(router, packet);
  }
}

void instance::on_packet(std::size_t router, const received_packet& packet) {
  const auto& r = io_[router];
  if (packet.ifindex != 0 && packet.ifindex != interface_.index) return drop("wrong_interface", {});
  // The kernel strips the IPv6 header and reports its fields; an IPv4 raw socket delivers it.
  ip_address source = packet.source;
  ip_address destination = packet.destination;
  int ttl = packet.hop_limit;
  std::span<const std::uint8_t> message = packet.bytes;
  if (!r.v6) {
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
  if (!multicast_ && std::find(r.peers.begin(), r.peers.end(), source) == r.peers.end())
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
  feed(router, events::advert_received{std::move(decoded.value)});
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
  feed(std::nullopt, events::interface_changed{link_up_});
}

}  // namespace cplb::vrrp::detail
