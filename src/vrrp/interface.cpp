#include "interface.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>

namespace cplb::vrrp::detail {
namespace {

/// An ioctl request on `name` through a throwaway datagram socket; false with errno set on failure.
bool interface_ioctl(const std::string& name, unsigned long request, ifreq& out) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  std::memset(&out, 0, sizeof out);
  std::memcpy(out.ifr_name, name.c_str(), std::min(name.size(), sizeof out.ifr_name - 1));
  const bool ok = ::ioctl(fd, request, &out) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

std::string errno_text() {
  return std::system_category().message(errno);
}

/// The first address of `name` (kernel order: the primary first) that is IPv4 and not in
/// `exclude`, or with `v6` the first IPv6 link-local one; nullopt if none.
std::optional<ip_address> first_address(const std::string& name, const std::vector<ip_address>& exclude,
                                        bool v6) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) throw std::runtime_error("cannot list interface addresses: " + errno_text());
  const std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> guard(list, ::freeifaddrs);
  for (const ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || name != a->ifa_name) continue;
    if (!v6 && a->ifa_addr->sa_family == AF_INET) {
      sockaddr_in in{};
      std::memcpy(&in, a->ifa_addr, sizeof in);
      const auto address = ip_address::v4(ntohl(in.sin_addr.s_addr));
      if (std::find(exclude.begin(), exclude.end(), address) == exclude.end()) return address;
    } else if (v6 && a->ifa_addr->sa_family == AF_INET6) {
      sockaddr_in6 in{};
      std::memcpy(&in, a->ifa_addr, sizeof in);
      std::array<std::uint8_t, 16> bytes{};
      std::memcpy(bytes.data(), &in.sin6_addr, bytes.size());
      if (const auto address = ip_address::v6(bytes); address.is_link_local()) return address;
    }
  }
  return std::nullopt;
}

}  // namespace

interface_info read_interface(const std::string& name, const std::vector<ip_address>& exclude, bool v6) {
  interface_info info;
  info.index = ::if_nametoindex(name.c_str());
  if (info.index == 0) throw std::runtime_error("interface " + name + " not found: " + errno_text());
  ifreq req{};
  if (!interface_ioctl(name, SIOCGIFHWADDR, req))
    throw std::runtime_error("cannot read the MAC address of " + name + ": " + errno_text());
  if (req.ifr_hwaddr.sa_family != ARPHRD_ETHER)
    throw std::runtime_error("interface " + name + " is not an Ethernet interface");
  std::memcpy(info.mac.data(), req.ifr_hwaddr.sa_data, info.mac.size());
  const auto primary = first_address(name, exclude, v6);
  if (!primary)
    throw std::runtime_error("interface " + name + (v6 ? " has no IPv6 link-local address (fe80::/64)"
                                                       : " has no IPv4 address besides the virtual IPs"));
  info.primary = *primary;
  info.running = interface_running(name);
  return info;
}

bool interface_running(const std::string& name) {
  ifreq req{};
  if (!interface_ioctl(name, SIOCGIFFLAGS, req)) return false;
  const auto flags = static_cast<unsigned>(req.ifr_flags);
  return (flags & IFF_UP) && (flags & IFF_RUNNING);
}

}  // namespace cplb::vrrp::detail
