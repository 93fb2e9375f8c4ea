#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cplb/vrrp/advert.hpp"
#include "cplb/vrrp/neighbour_advert.hpp"

// What a VRRP instance needs to know about its interface, read from the kernel.
namespace cplb::vrrp::detail {

/// One interface as the kernel sees it now.
struct interface_info {
  unsigned index = 0;     ///< the kernel's ifindex
  mac_address mac{};      ///< source of gratuitous ARP and neighbour advertisements
  ip_address primary;     ///< IPv4: its first address not in `exclude`; IPv6: its link-local one
  bool running = false;   ///< IFF_UP and IFF_RUNNING (the link has a carrier)
};

/// Reads `name` for the routers of family `v6`; throws std::runtime_error saying why when it does
/// not exist, is not Ethernet, or has no IPv4 address other than `exclude` (the virtual IPs) or
/// no IPv6 link-local address.
interface_info read_interface(const std::string& name, const std::vector<ip_address>& exclude, bool v6);

/// True when `name` is up with a carrier; false also when it cannot be read.
bool interface_running(const std::string& name);

}  // namespace cplb::vrrp::detail
