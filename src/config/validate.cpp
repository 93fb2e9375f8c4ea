#include "validate.hpp"

#include <algorithm>
#include <map>

namespace cplb::config::detail {
namespace {

/// One value that must be unique among its kind, at its key path.
struct keyed {
  std::string path;
  std::string key;
  std::string label;  ///< "frontend name 'x'", for the message
};

std::string item(const std::string& list, std::size_t i, const std::string& field = "") {
  return list + "[" + std::to_string(i) + "]" + (field.empty() ? "" : "." + field);
}

std::string line_of(reader& r, const std::string& path) {
  return std::to_string(r.where(path)->line + 1);
}

/// Reports every item whose key an earlier item already has.
void report_duplicates(reader& r, const std::vector<keyed>& items) {
  std::map<std::string, std::string> first;  // key -> path of the first
  for (const auto& it : items) {
    const YAML::Mark* at = r.where(it.path);
    if (!at) continue;
    auto [pos, inserted] = first.emplace(it.key, it.path);
    if (!inserted)
      r.report(*at, it.path,
               "duplicate " + it.label + " (first at line " + line_of(r, pos->second) + ")");
  }
}

bool is_wildcard(const socket_address& a) {
  std::string ip = a.ip_string();
  return ip == "0.0.0.0" || ip == "::";
}

/// True when two listening sockets would take the same connections.
bool overlaps(const socket_address& a, const socket_address& b) {
  if (a.port() != b.port()) return false;
  if (a == b) return true;
  bool v6_any = (is_wildcard(a) && a.family() == AF_INET6) ||
                (is_wildcard(b) && b.family() == AF_INET6);  // dual-stack by default
  return v6_any || (a.family() == b.family() && (is_wildcard(a) || is_wildcard(b)));
}

void check_listen_addresses(reader& r, const config& c) {
  std::vector<std::pair<std::string, socket_address>> listens;
  if (r.where("admin.listen")) listens.emplace_back("admin.listen", c.admin.listen);
  for (std::size_t i = 0; i < c.frontends.size(); ++i)
    if (r.where(item("frontends", i, "listen")))
      listens.emplace_back(item("frontends", i, "listen"), c.frontends[i].listen);
  std::stable_sort(listens.begin(), listens.end(), [&](const auto& a, const auto& b) {
    const YAML::Mark* x = r.where(a.first);
    const YAML::Mark* y = r.where(b.first);
    return x->line != y->line ? x->line < y->line : x->column < y->column;
  });
  for (std::size_t i = 0; i < listens.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const auto& [path, address] = listens[i];
      const auto& [first_path, first_address] = listens[j];
      if (!overlaps(address, first_address)) continue;
      std::string what = address == first_address
                             ? "duplicate listen address " + address.to_string()
                             : address.to_string() + " overlaps " + first_address.to_string();
      r.report(*r.where(path), path,
               what + " of " + first_path + " (line " + line_of(r, first_path) + ")");
      break;
    }
  }
}

/// Reports a reference to a backend that is not defined.
void check_backend_reference(reader& r, const config& c, const std::string& path,
                             const std::string& name) {
  const YAML::Mark* at = r.where(path);
  if (!at || c.find_backend(name)) return;
  std::string defined;
  for (const auto& b : c.backends) defined += (defined.empty() ? "" : ", ") + b.name;
  r.report(*at, path,
           "backend '" + name +
               "' is not defined (defined: " + (defined.empty() ? "none" : defined) + ")");
}

/// `track_backends` of the entry at `path` (a VRRP instance or an anycast entry): each defined,
/// none twice.
void check_tracked_backends(reader& r, const config& c, const std::string& path,
                            const std::vector<std::string>& names) {
  std::vector<keyed> tracked;
  for (std::size_t j = 0; j < names.size(); ++j) {
    std::string track = item(path + ".track_backends", j);
    tracked.push_back({track, names[j], "tracked backend '" + names[j] + "'"});
    check_backend_reference(r, c, track, names[j]);
  }
  report_duplicates(r, tracked);
}

void check_frontends(reader& r, const config& c) {
  std::vector<keyed> names;
  for (std::size_t i = 0; i < c.frontends.size(); ++i) {
    const auto& f = c.frontends[i];
    names.push_back({item("frontends", i, "name"), f.name, "frontend name '" + f.name + "'"});
    check_backend_reference(r, c, item("frontends", i, "backend"), f.backend);
  }
  report_duplicates(r, names);
}

void check_backends(reader& r, const config& c) {
  std::vector<keyed> names;
  for (std::size_t i = 0; i < c.backends.size(); ++i) {
    const auto& b = c.backends[i];
    std::string path = item("backends", i);
    names.push_back({path + ".name", b.name, "backend name '" + b.name + "'"});
    std::vector<keyed> servers;
    std::vector<keyed> addresses;
    for (std::size_t j = 0; j < b.servers.size(); ++j) {
      const auto& s = b.servers[j];
      std::string server = item(path + ".servers", j);
      servers.push_back({server + ".name", s.name, "server name '" + s.name + "'"});
      addresses.push_back(
          {server + ".address", s.address.to_string(), "server address " + s.address.to_string()});
    }
    report_duplicates(r, servers);
    report_duplicates(r, addresses);
  }
  report_duplicates(r, names);
}

void check_vrrp_instances(reader& r, const config& c) {
  std::vector<keyed> names;
  std::vector<keyed> router_ids;
  std::vector<keyed> virtual_ips;
  for (std::size_t i = 0; i < c.vrrp_instances.size(); ++i) {
    const auto& v = c.vrrp_instances[i];
    std::string path = item("vrrp_instances", i);
    names.push_back({path + ".name", v.name, "VRRP instance name '" + v.name + "'"});
    if (r.where(path + ".interface")) {
      std::string id = std::to_string(v.virtual_router_id);
      router_ids.push_back({path + ".virtual_router_id", v.interface + "/" + id,
                            "virtual_router_id " + id + " on " + v.interface});
    }
    for (std::size_t j = 0; j < v.virtual_ips.size(); ++j) {
      std::string ip = v.virtual_ips[j].address.to_string();
      virtual_ips.push_back({item(path + ".virtual_ips", j), ip, "virtual IP " + ip});
    }
    std::vector<keyed> peers;
    for (std::size_t j = 0; j < v.unicast_peers.size(); ++j) {
      std::string ip = v.unicast_peers[j].to_string();
      peers.push_back({item(path + ".unicast_peers", j), ip, "unicast peer " + ip});
    }
    report_duplicates(r, peers);
    check_tracked_backends(r, c, path, v.track_backends);
  }
  report_duplicates(r, names);
  report_duplicates(r, router_ids);
  report_duplicates(r, virtual_ips);
}

void check_anycast(reader& r, const config& c) {
  std::vector<keyed> names;
  std::vector<keyed> virtual_ips;
  for (std::size_t i = 0; i < c.anycast.size(); ++i) {
    const auto& a = c.anycast[i];
    std::string path = item("anycast", i);
    names.push_back({path + ".name", a.name, "anycast name '" + a.name + "'"});
    for (std::size_t j = 0; j < a.virtual_ips.size(); ++j) {
      std::string ip = a.virtual_ips[j].to_string();
      virtual_ips.push_back({item(path + ".virtual_ips", j), ip, "anycast virtual IP " + ip});
    }
    check_tracked_backends(r, c, path, a.track_backends);
  }
  report_duplicates(r, names);
  report_duplicates(r, virtual_ips);
}

/// A VIP is held either by VRRP (on the interface of the master) or by anycast (on every node's
/// TUN device); both at once would put two copies of the address on a node.
void check_vip_modes(reader& r, const config& c) {
  std::map<ip_address, std::string> vrrp;  // VIP -> path of its first VRRP entry
  for (std::size_t i = 0; i < c.vrrp_instances.size(); ++i)
    for (std::size_t j = 0; j < c.vrrp_instances[i].virtual_ips.size(); ++j)
      vrrp.emplace(c.vrrp_instances[i].virtual_ips[j].address,
                   item(item("vrrp_instances", i) + ".virtual_ips", j));
  for (std::size_t i = 0; i < c.anycast.size(); ++i)
    for (std::size_t j = 0; j < c.anycast[i].virtual_ips.size(); ++j) {
      const auto found = vrrp.find(c.anycast[i].virtual_ips[j]);
      const std::string path = item(item("anycast", i) + ".virtual_ips", j);
      if (found == vrrp.end()) continue;
      if (const YAML::Mark* at = r.where(path))
        r.report(*at, path,
                 "virtual IP " + found->first.to_string() + " is also a VRRP virtual IP (line " +
                     line_of(r, found->second) + "): a VIP is either anycast or VRRP");
    }
}

}  // namespace

void validate(reader& r, const config& c) {
  check_listen_addresses(r, c);
  check_frontends(r, c);
  check_backends(r, c);
  check_vrrp_instances(r, c);
  check_anycast(r, c);
  check_vip_modes(r, c);
}

}  // namespace cplb::config::detail
