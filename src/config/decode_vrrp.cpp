#include "decode.hpp"
#include "view.hpp"

namespace cplb::config::detail {
namespace {

constexpr std::size_t max_interface_name = 15;  // IFNAMSIZ - 1
constexpr std::size_t max_virtual_ips = 255;    // the advert's 8-bit address count

/// False for 0.0.0.0/8, multicast, reserved and broadcast addresses.
bool is_unicast(std::uint32_t a) { return (a >> 24) != 0 && a < 0xe0000000u; }

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

/// Reports the items of the list at `key` that decoded but are not unicast addresses.
void check_unicast(map_view& m, std::string_view key, const std::vector<std::uint32_t>& addresses) {
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (is_unicast(addresses[i])) continue;
    std::string path = m.path_of(key) + "[" + std::to_string(i) + "]";
    if (const YAML::Mark* at = m.problems().where(path))
      m.problems().report(*at, path, "is not a unicast IPv4 address");
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

  read_list(m, "unicast_peers", ipv4_address(), out.unicast_peers);
  check_unicast(m, "unicast_peers", out.unicast_peers);
  m.read("unicast_ttl_check", boolean(), out.unicast_ttl_check);

  if (m.require("virtual_ips")) {
    read_list(m, "virtual_ips", ipv4_prefix(), out.virtual_ips);
    const YAML::Node* n = m.find("virtual_ips");
    if (n->IsNull() || (n->IsSequence() && n->size() == 0))
      r.report(m.mark_of("virtual_ips"), m.path_of("virtual_ips"),
               "at least one virtual IP is required");
    else if (n->IsSequence() && n->size() > max_virtual_ips)
      r.report(m.mark_of("virtual_ips"), m.path_of("virtual_ips"),
               "has " + std::to_string(n->size()) + " addresses; at most 255 are allowed");
    std::vector<std::uint32_t> addresses;
    for (const auto& vip : out.virtual_ips) addresses.push_back(vip.address);
    check_unicast(m, "virtual_ips", addresses);
  }
  read_list(m, "track_backends", name_text(), out.track_backends);
  m.read("track_penalty", whole_number(0, 253), out.track_penalty);
  if (const YAML::Node* n = m.find("garp"))
    decode_garp(r, *n, m.mark_of("garp"), m.path_of("garp"), out.garp);
}

}  // namespace cplb::config::detail
