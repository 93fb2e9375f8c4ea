// The anycast kernel interface over rtnetlink: local routes (the VIPs accepted by the node) and
// host routes in the announcing table, all of protocol 248 and through cplb's device.
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>

#include "cplb/anycast/device.hpp"
#include "cplb/anycast/settings.hpp"
#include "netlink.hpp"

namespace cplb::anycast {
namespace {

using detail::request;

/// rtm_table holds 8 bits; larger tables go in RTA_TABLE (sent always, read first).
unsigned char short_table(unsigned table) { 
  return static_cast<unsigned char>(table < 256 ? table : RT_TABLE_UNSPEC);
}

bool ignorable(std::error_code ec, std::errc what) { return ec == what; }

class netlink_kernel_impl final : public kernel {
 public:
  explicit netlink_kernel_impl(unsigned ifindex) : ifindex_(ifindex) {}

  // A VIP is made local by a route of type local in the kernel's local table through the device
  // (as `ip route add local VIP dev cplb-any0 table local`), not by an address on the device: FRR's
  // zebra takes an interface address for a connected route, which wins over the route it imports
  // from `table`, so FRR would announce nothing. The route goes with the device all the same.
  std::error_code add_local(const ip_address& vip) override {
    request r(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route_message(vip, RT_TABLE_LOCAL, RT_SCOPE_HOST, RTN_LOCAL));
    r.put(RTA_DST, vip.bytes().data(), vip.size());
    r.put_u32(RTA_TABLE, RT_TABLE_LOCAL);
    r.put_u32(RTA_OIF, ifindex_);
    return detail::transact(r);
  }

  std::error_code remove_local(const ip_address& vip) override {
    return remove(RT_TABLE_LOCAL, vip, RTN_LOCAL);
  }

  std::error_code locals(std::vector<ip_address>& out) override {
    std::vector<found_route> found;
    if (const auto ec = routes(RT_TABLE_LOCAL, found)) return ec;
    for (const auto& route : found)
      if (route.via_device) out.push_back(route.vip);
    return {};
  }

  std::error_code add_route(unsigned table, const ip_address& vip) override {
    request r(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route_message(vip, table, RT_SCOPE_LINK, RTN_UNICAST));
    r.put(RTA_DST, vip.bytes().data(), vip.size());
    r.put_u32(RTA_TABLE, table);
    r.put_u32(RTA_OIF, ifindex_);
    return detail::transact(r);
  }

  std::error_code remove_route(unsigned table, const ip_address& vip) override {
    return remove(table, vip, RTN_UNICAST);
  }

  std::error_code routes(unsigned table, std::vector<found_route>& out) override {
    for (const int family : {AF_INET, AF_INET6}) {
      rtmsg in_table{};
      in_table.rtm_family = static_cast<unsigned char>(family);
      in_table.rtm_table = short_table(table);
      in_table.rtm_protocol = static_cast<unsigned char>(route_protocol);
      request r(RTM_GETROUTE, 0, in_table);
      r.put_u32(RTA_TABLE, table);
      const auto ec = detail::dump(r, [&](const nlmsghdr& m) { read_route(m, table, out); });
      if (ec) return ec;
    }
    return {};
  }

 private:
  std::error_code remove(unsigned table, const ip_address& vip, unsigned char type) {
    request r(RTM_DELROUTE, 0, route_message(vip, table, RT_SCOPE_NOWHERE, type));
    r.put(RTA_DST, vip.bytes().data(), vip.size());
    r.put_u32(RTA_TABLE, table);
    const auto ec = detail::transact(r);
    return ignorable(ec, std::errc::no_such_process) ? std::error_code{} : ec;
  }

  static rtmsg route_message(const ip_address& vip, unsigned table, unsigned char scope, unsigned char type) {
    rtmsg m{};
    m.rtm_family = static_cast<unsigned char>(vip.family());
    m.rtm_dst_len = static_cast<unsigned char>(vip.host_prefix_length());
    m.rtm_table = short_table(table);
    m.rtm_protocol = static_cast<unsigned char>(route_protocol);
    m.rtm_scope = scope;
    m.rtm_type = type;
    return m;
  }

  /// Adds the route in `m` to `out` when it is a host route of cplb's protocol in `table`.
  void read_route(const nlmsghdr& m, unsigned table, std::vector<found_route>& out) const {
    if (m.nlmsg_type != RTM_NEWROUTE || m.nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) return;
    const auto* r = static_cast<const rtmsg*>(NLMSG_DATA(&m));
    if (r->rtm_protocol != route_protocol || (r->rtm_family != AF_INET && r->rtm_family != AF_INET6)) return;
    const std::size_t size = r->rtm_family == AF_INET ? 4 : 16;
    if (r->rtm_dst_len != size * 8) return;
    unsigned in_table = r->rtm_table;
    std::optional<ip_address> dst;
    unsigned oif = 0;
    detail::for_each_attribute(RTM_RTA(r), RTM_PAYLOAD(&m), [&](std::uint16_t type, auto value) {
      if (type == RTA_TABLE && value.size() == 4) std::memcpy(&in_table, value.data(), 4);
      if (type == RTA_DST && value.size() == size) dst = ip_address::from_bytes(r->rtm_family, value.data());
      if (type == RTA_OIF && value.size() == 4) std::memcpy(&oif, value.data(), 4);
    });
    if (in_table == table && dst) out.push_back({*dst, oif == ifindex_});
  }

  unsigned ifindex_;
};

}  // namespace

std::unique_ptr<kernel> netlink_kernel(const device& d) { return std::make_unique<netlink_kernel_impl>(d.ifindex()); }

}  // namespace cplb::anycast
