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

/// What the announcer asks of the kernel: the VIPs local to the node, and host routes through
/// cplb's device in a routing table. Every call is synchronous and idempotent: a route already
/// there (or already gone) is success.
class kernel {
 public:
  virtual ~kernel() = default;
  /// Makes `vip` local to the node (the node accepts connections to it), through the device.
  virtual std::error_code add_local(const ip_address& vip) = 0;
  /// Makes `vip` no longer local.
  virtual std::error_code remove_local(const ip_address& vip) = 0;
  /// The VIPs made local through the device.
  virtual std::error_code locals(std::vector<ip_address>& out) = 0;
  /// Adds (or replaces) the host route to `vip` in `table` through the device.
  virtual std::error_code add_route(unsigned table, const ip_address& vip) = 0;
  /// Removes cplb's host route to `vip` from `table`.
  virtual std::error_code remove_route(unsigned table, const ip_address& vip) = 0;
  /// Every route of cplb's protocol in `table`.
  virtual std::error_code routes(unsigned table, std::vector<found_route>& out) = 0;
};

}  // namespace cplb::anycast
