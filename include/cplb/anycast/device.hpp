#pragma once
#include <memory>
#include <string>

#include "cplb/anycast/kernel.hpp"

namespace cplb::anycast {

/// The TUN device cplb hangs its VIPs and routes on. It is not persistent: when its last
/// descriptor closes (cplb exits, is killed or crashes) the kernel deletes it, and with it every
/// route through it, the local ones included, so no route outlives the process. A binary
/// upgrade passes the descriptor on, and the device lives on in the new process.
class device {
 public:
  /// A new device `cplb-any<N>`, up; throws std::system_error saying what failed.
  static std::unique_ptr<device> create();
  /// The device behind `fd` (sent by the old process of an upgrade), which it takes; throws
  /// std::system_error when `fd` is no TUN device.
  static std::unique_ptr<device> adopt(int fd);
  ~device();
  device(const device&) = delete;
  device& operator=(const device&) = delete;

  /// The descriptor that keeps the device alive.
  int fd() const { return fd_; }
  /// `cplb-any0`.
  const std::string& name() const { return name_; }
  /// The interface index routes point at.
  unsigned ifindex() const { return ifindex_; }

 private:
  device(int fd, std::string name, unsigned ifindex);
  int fd_;
  std::string name_;
  unsigned ifindex_;
};

/// The kernel interface over rtnetlink for the routes through `d`.
std::unique_ptr<kernel> netlink_kernel(const device& d);

}  // namespace cplb::anycast
