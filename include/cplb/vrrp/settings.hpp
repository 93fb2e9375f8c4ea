#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

#include "cplb/vrrp/advert.hpp"

namespace cplb::vrrp {

/// What one virtual router needs to run (a dual-stack instance has one per family); the shell
/// builds it from the config and the interface.
struct settings {
  unsigned version = 3;                            ///< 2 or 3
  std::uint8_t virtual_router_id = 0;              ///< 1..255
  std::uint8_t priority = 100;                     ///< the configured priority, 1..254
  centiseconds advert_interval{100};  ///< v3: 1..4095 cs; v2: whole seconds 1..255
  bool preempt = true;                             ///< a higher-priority backup takes over
  ip_address primary_ip;                           ///< advert source, tie-break: IPv4 or link-local
  std::vector<ip_address> virtual_ips;             ///< advertised and compared; primary_ip's family
  friend bool operator==(const settings&, const settings&) = default;
};

/// Throws std::invalid_argument naming the first field out of range.
void validate(const settings& s);

}  // namespace cplb::vrrp
