#pragma once
#include <system_error>
#include <vector>

#include "cplb/core/ip_address.hpp"

namespace cplb::anycast {

/// A route of cplb's protocol found in a table.
struct found_route {
  ip_address vip;
  bool via_device = false;  ///< through this process's device (else left by someone before)
};

/// What the announcer asks of the kernel: the VIPs as local addresses on cplb's device, and host
/// routes through that device in a routing table. Every call is synchronous and idempotent: an
/// address or route already there (or already gone) is success.
class kernel {
 public:
  virtual ~kernel() = default;
  /// Makes `vip` a local address of the device.
  virtual std::error_code add_address(const ip_address& vip) = 0;
  /// Removes `vip` from the device.
  virtual std::error_code remove_address(const ip_address& vip) = 0;
  /// The global addresses on the device.
  virtual std::error_code addresses(std::vector<ip_address>& out) = 0;
  /// Adds (or replaces) the host route to `vip` in `table` through the device.
  virtual std::error_code add_route(unsigned table, const ip_address& vip) = 0;
  /// Removes cplb's host route to `vip` from `table`.
  virtual std::error_code remove_route(unsigned table, const ip_address& vip) = 0;
  /// Every route of cplb's protocol in `table`.
  virtual std::error_code routes(unsigned table, std::vector<found_route>& out) = 0;
};

}  // namespace cplb::anycast
