#include "decode.hpp"
#include "view.hpp"

namespace cplb::config::detail {
namespace {

constexpr std::size_t max_virtual_ips = 64;  // routes and addresses are kept one by one

/// A VIP to announce: a global unicast IP literal, bare or as a host prefix (/32, /128).
scalar_rule<ip_address> host_address() {
  return {"an IPv4 /32 or IPv6 /128 address like 192.0.2.100/32",
          [](const std::string& text, std::string& why) -> std::optional<ip_address> {
            const auto slash = text.find('/');
            const auto address = ip_address::parse(std::string_view(text).substr(0, slash));
            if (!address) {
              why = "'" + text + "' is not an IPv4 /32 or IPv6 /128 address";
              return std::nullopt;
            }
            const std::string host_length = std::to_string(address->host_prefix_length());
            if (slash != std::string::npos && text.substr(slash + 1) != host_length) {
              why = "'" + text + "': an anycast VIP is one address, /" + host_length;
              return std::nullopt;
            }
            if (!address->is_global_unicast()) {
              why = "'" + text + "' is not a unicast address a node can announce";
              return std::nullopt;
            }
            return address;
          }};
}

/// A kernel table cplb may own routes in: not unspec (0), default (253) or local (255). Main (254)
/// is allowed: a host route there to a VIP the node holds as local changes no forwarding, and FRR
/// exports it with `redistribute kernel` (its `ip import-table` keeps a route whose device is gone).
bool is_reserved_table(unsigned table) { return table == 0 || table == 253 || table == 255; }

}  // namespace

void decode_anycast(reader& r, const YAML::Node& node, const YAML::Mark& at, const std::string& path,
                    anycast_config& out) {
  map_view m(r, node, at, path, {"name", "virtual_ips", "table", "track_backends", "withdraw_delay"});
  if (!m.ok()) return;
  if (m.require("name")) m.read("name", name_text(), out.name);
  if (m.require("virtual_ips")) {
    read_list(m, "virtual_ips", host_address(), out.virtual_ips);
    const YAML::Node* n = m.find("virtual_ips");
    if (n->IsNull() || (n->IsSequence() && n->size() == 0))
      r.report(m.mark_of("virtual_ips"), m.path_of("virtual_ips"), "at least one virtual IP is required");
    else if (n->IsSequence() && n->size() > max_virtual_ips)
      r.report(m.mark_of("virtual_ips"), m.path_of("virtual_ips"),
               "has " + std::to_string(n->size()) + " addresses; at most " + std::to_string(max_virtual_ips) +
                   " are allowed");
  }
  if (m.read("table", whole_number(1, 0xffffffffu), out.table) && is_reserved_table(out.table))
    r.report(m.mark_of("table"), m.path_of("table"),
             "table " + std::to_string(out.table) + " is the kernel's own (default or local): " +
                 "use one the routing daemon reads, such as 198 (BIRD) or 254, main (FRR)");
  read_list(m, "track_backends", name_text(), out.track_backends);
  m.read("withdraw_delay", duration_at_least(duration(0)), out.withdraw_delay);
}

}  // namespace cplb::config::detail
