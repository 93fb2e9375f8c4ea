#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cplb/vrrp/advert.hpp"

// What a VRRP instance needs to know about its interface, read from the kernel.
namespace cplb::vrrp::detail {

/// An Ethernet address.
using mac_address = std::array<std::uint8_t, 6>;

/// One interface as the kernel sees it now.
struct interface_info {
  unsigned index = 0;        ///< the kernel's ifindex
  mac_address mac{};         ///< source of gratuitous ARP
  ipv4_address primary = 0;  ///< its first IPv4 address that is not one of `exclude`
  bool running = false;      ///< IFF_UP and IFF_RUNNING (the link has a carrier)
};

/// Reads `name`; throws std::runtime_error saying why when it does not exist, is not Ethernet or
/// has no IPv4 address other than `exclude` (the virtual IPs).
interface_info read_interface(const std::string& name, const std::vector<ipv4_address>& exclude);

/// True when `name` is up with a carrier; false also when it cannot be read.
bool interface_running(const std::string& name);

}  // namespace cplb::vrrp::detail
