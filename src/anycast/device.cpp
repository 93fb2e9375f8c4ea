#include "cplb/anycast/device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace cplb::anycast {
namespace {

/// The kernel picks the first free number.
constexpr const char* name_pattern = "cplb-any%d";

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::system_category(), what); }

/// Sets the device up. No ARP: nothing is ever sent through it.
void set_up(const std::string& name) {
  const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) fail("socket for " + name);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  const bool ok = ::ioctl(sock, SIOCGIFFLAGS, &ifr) == 0 &&
                  (ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_NOARP),
                   ::ioctl(sock, SIOCSIFFLAGS, &ifr) == 0);
  const int saved = errno;
  ::close(sock);
  errno = saved;
  if (!ok) fail("setting " + name + " up");
}

unsigned index_of(const std::string& name) {
  const unsigned index = ::if_nametoindex(name.c_str());
  if (index == 0) fail("interface index of " + name);
  return index;
}

}  // namespace

device::device(int fd, std::string name, unsigned ifindex)
    : fd_(fd), name_(std::move(name)), ifindex_(ifindex) {}

device::~device() { ::close(fd_); }

std::unique_ptr<device> device::create() {
  const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) fail("opening /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;  // no TUNSETPERSIST: the device goes with the descriptor
  std::strncpy(ifr.ifr_name, name_pattern, IFNAMSIZ - 1);
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail("creating a TUN device (TUNSETIFF)");
  }
  std::unique_ptr<device> d(new device(fd, ifr.ifr_name, 0));
  set_up(d->name_);
  d->ifindex_ = index_of(d->name_);
  return d;
}

std::unique_ptr<device> device::adopt(int fd) {
  ifreq ifr{};
  if (::ioctl(fd, TUNGETIFF, &ifr) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail("the handed-over anycast descriptor is no TUN device (TUNGETIFF)");
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::unique_ptr<device> d(new device(fd, ifr.ifr_name, 0));
  d->ifindex_ = index_of(d->name_);
  return d;
}

}  // namespace cplb::anycast
