#pragma once
#include <string>
#include <vector>

#include "cplb/core/ip_address.hpp"

namespace cplb::anycast {

/// Route protocol number of cplb's routes (`ip route ... proto 248`; BIRD's `krt_source = 248`,
/// FRR's import-table takes any): one the kernel and routing daemons do not use themselves.
inline constexpr unsigned route_protocol = 248;

/// One announcement: its VIPs go into `table` while every tracked backend has a server up.
struct announcement_settings {
  std::string name;
  std::vector<ip_address> virtual_ips;  ///< IPv4 and IPv6 host addresses
  unsigned table = 0;                   ///< the kernel routing table
  std::vector<std::string> track_backends;
};

}  // namespace cplb::anycast
