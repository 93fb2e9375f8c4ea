#include <algorithm>

#include "decode.hpp"
#include "view.hpp"

namespace cplb::config::detail {
namespace {

constexpr std::size_t max_interface_name = 15;  // IFNAMSIZ - 1
constexpr std::size_t max_virtual_ips = 255;    // the advert's 8-bit address count

/// Why `a` cannot be a VIP or a peer (0.0.0.0/8, multicast, reserved, broadcast; IPv6 ::, ::1,
/// multicast); empty when it can.
std::string not_unicast(const ip_address& a) {
  if (a.is_v4()) {
    const auto v = a.v4_value();
    return (v >> 24) != 0 && v < 0xe0000000u ? "" : "is not a unicast IPv4 address";
  }
  const auto& b = a.raw();
  const bool zero_but_last = std::all_of(b.begin(), b.end() - 1, [](std::uint8_t x) { return x == 0; });
  return b[0] != 0xff && !(zero_but_last && b[15] <= 1) ? "" : "is not a unicast IPv6 address";
}

void decode_garp(reader& r, const YAML::Node& node, const YAML::Mark& at, const std::string& path,
                 garp_config& out) {
  map_view m(r, node, at, path, {"count", "interval", "refresh"});
  if (!m.ok()) return;
  m.read("count", whole_number(0, 100), out.count);
  m.read("interval", duration_at_least(duration(1)), out.interval);
  m.read("refresh", duration_at_least(duration(0)), out.refresh);
}

/// The advert interval fits the VRRP version's field: centiseconds (v3) or seconds (v2).
void check_advert_interval(map_view& m, const vrrp_instance_config& out) {
  using std::chrono::seconds;
  std::string why;
  if (out.version == 3 && out.advert_interval % duration(10) != duration(0))
    why = "must be a multiple of 10ms with version 3";
  else if (out.version == 3 && out.advert_interval > duration(40950))
    why = "is out of range for version 3 (10ms-40950ms)";
  else if (out.version == 2 && out.advert_interval % seconds(1) != duration(0))
    why = "must be whole seconds with version 2";
  else if (out.version == 2 && out.advert_interval > seconds(255))
    why = "is out of range for version 2 (1s-255s)";
  if (!why.empty())
    m.problems().report(m.mark_of("advert_interval"), m.path_of("advert_interval"),
                        format_duration(out.advert_interval) + " " + why);
}

/// True when item `i` of the list at `key` decoded (a failed one is already reported).
bool item_decoded(map_view& m, std::string_view key, std::size_t i) {
  return m.problems().where(m.path_of(key) + "[" + std::to_string(i) + "]") != nullptr;
}

/// Reports a problem with item `i` of the list at `key`, which decoded.
void report_item(map_view& m, std::string_view key, std::size_t i, const std::string& message) {
  const std::string path = m.path_of(key) + "[" + std::to_string(i) + "]";
  m.problems().report(*m.problems().where(path), path, message);
}

const char* family_name(bool v6) { return v6 ? "IPv6" : "IPv4"; }

/// The VIPs are unicast, and IPv6 ones need VRRPv3 (RFC 3768 is IPv4 only).
void check_virtual_ips(map_view& m, const vrrp_instance_config& out) {
  for (std::size_t i = 0; i < out.virtual_ips.size(); ++i) {
    if (!item_decoded(m, "virtual_ips", i)) continue;
    const auto& a = out.virtual_ips[i].address;
    if (const auto why = not_unicast(a); !why.empty())
      report_item(m, "virtual_ips", i, why);
    else if (a.is_v6() && out.version != 3)
      report_item(m, "virtual_ips", i, "is an IPv6 address: IPv6 needs version: 3 (RFC 5798)");
  }
}

/// The peers are unicast and of a family of the VIPs, and every family of the VIPs has a peer:
/// each family's router sends to the peers of its own family.
void check_unicast_peers(map_view& m, const vrrp_instance_config& out) {
  bool vip_family[2] = {false, false};
  for (const auto& vip : out.virtual_ips) vip_family[vip.address.is_v6()] = true;
  bool peer_family[2] = {false, false};
  bool all_decoded = true;  // and fit
  for (std::size_t i = 0; i < out.unicast_peers.size(); ++i) {
    if (!item_decoded(m, "unicast_peers", i)) {
      all_decoded = false;
      continue;
    }
    const auto& a = out.unicast_peers[i];
    peer_family[a.is_v6()] = true;
    std::string why = not_unicast(a);
    if (why.empty() && a.is_v6() && !a.is_link_local())
      why = "is not link-local: IPv6 adverts come from the peer's link-local address "
            "(fe80::/10, RFC 5798 5.1.2.1)";
    if (why.empty() && !vip_family[a.is_v6()])
      why = std::string("is an ") + family_name(a.is_v6()) +
            " address, but no virtual IP of the instance is: the peers' family must match";
    if (why.empty()) continue;
    report_item(m, "unicast_peers", i, why);
    all_decoded = false;  // one problem per mistake: no "no peer of that family" on top
  }
  if (out.unicast_peers.empty() || !all_decoded) return;
  for (const bool v6 : {false, true}) {
    if (vip_family[v6] && !peer_family[v6])
      m.problems().report(m.mark_of("unicast_peers"), m.path_of("unicast_peers"),
                          std::string("has no ") + family_name(v6) + " peer for the " + family_name(v6) +
                              " virtual IPs");
  }
}

}  // namespace

void decode_vrrp_instance(reader& r, const YAML::Node& node, const YAML::Mark& at,
                          const std::string& path, vrrp_instance_config& out) {
  map_view m(
      r, node, at, path,
      {"name", "interface", "virtual_router_id", "priority", "advert_interval", "version",
       "preempt", "unicast_peers", "unicast_ttl_check", "virtual_ips", "track_backends", "track_penalty", "garp"});
  if (!m.ok()) return;
  if (m.require("name")) m.read("name", name_text(), out.name);
  if (m.require("interface") && m.read("interface", any_text(), out.interface) &&
      (out.interface.empty() || out.interface.size() > max_interface_name ||
       out.interface.find_first_of("/: \t") != std::string::npos))
    r.report(m.mark_of("interface"), m.path_of("interface"),
             "'" + out.interface + "' is not a valid interface name");
  if (m.require("virtual_router_id"))
    m.read("virtual_router_id", whole_number(1, 255), out.virtual_router_id);
  m.read("priority", whole_number(1, 254), out.priority);
  bool version_ok =
      m.read("version", one_of<unsigned>("version", {{"2", 2}, {"3", 3}}), out.version) ||
      !m.has("version");
  if (m.read("advert_interval", duration_at_least(duration(1)), out.advert_interval) ||
      !m.has("advert_interval")) {
    if (version_ok) check_advert_interval(m, out);
  }
  m.read("preempt", boolean(), out.preempt);

  read_list(m, "unicast_peers", ip_literal(), out.unicast_peers);
  m.read("unicast_ttl_check", boolean(), out.unicast_ttl_check);

  if (m.require("virtual_ips")) {
    read_list(m, "virtual_ips", ip_prefix(), out.virtual_ips);
    const YAML::Node* n = m.find("virtual_ips");
    if (n->IsNull() || (n->IsSequence() && n->size() == 0))
      r.report(m.mark_of("virtual_ips"), m.path_of("virtual_ips"),
               "at least one virtual IP is required");
    else if (n->IsSequence() && n->size() > max_virtual_ips)
      r.report(m.mark_of("virtual_ips"), m.path_of("virtual_ips"),
               "has " + std::to_string(n->size()) + " addresses; at most 255 are allowed");
    check_virtual_ips(m, out);
  }
  check_unicast_peers(m, out);
  read_list(m, "track_backends", name_text(), out.track_backends);
  m.read("track_penalty", whole_number(0, 253), out.track_penalty);
  if (const YAML::Node* n = m.find("garp"))
    decode_garp(r, *n, m.mark_of("garp"), m.path_of("garp"), out.garp);
}

}  // namespace cplb::config::detail
