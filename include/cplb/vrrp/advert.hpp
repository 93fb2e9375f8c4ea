#pragma once
#include <chrono>
#include <cstdint>
#include <ratio>
#include <string>
#include <vector>

#include "cplb/core/ip_address.hpp"
#include "cplb/core/socket_address.hpp"

namespace cplb::vrrp {

/// The unit of the VRRPv3 advert interval (std::chrono has no alias for it).
using centiseconds = std::chrono::duration<std::int64_t, std::centi>;

/// An IPv4 address in host byte order (10.0.0.1 is 0x0a000001), as the IPv4 shells use them.
using ipv4_address = std::uint32_t;

using cplb::format_ipv4;
using cplb::ip_address;

/// One VRRP advertisement (v2 or v3), without its IP header.
struct advert {
  unsigned version = 3;                ///< 2 (RFC 3768) or 3 (RFC 5798)
  std::uint8_t virtual_router_id = 0;  ///< 1..255
  std::uint8_t priority = 0;           ///< 0: the master is leaving; 255: the address owner
  /// v3: 12 bits of centiseconds; v2: 8 bits of whole seconds (held here as centiseconds).
  centiseconds max_advert_interval{100};
  std::vector<ip_address> addresses;  ///< the virtual IPs, in packet order, all of the sender's family
  ip_address sender;                  ///< the IP source: set by decode, the pseudo-header source for encode
  friend bool operator==(const advert&, const advert&) = default;
};

}  // namespace cplb::vrrp
