#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <netinet/in.h>
#include <sys/socket.h>

namespace cplb {

/// Formats an IPv4 address held in host byte order (10.0.0.1 is 0x0a000001) as `a.b.c.d`.
std::string format_ipv4(std::uint32_t address);

/// An IPv4 or IPv6 address with a port, stored as the kernel takes it (no Asio here).
class socket_address {
 public:
  /// Parses `a.b.c.d:port` or `[v6]:port` (IP literals only); nullopt when malformed.
  static std::optional<socket_address> parse(std::string_view text);

  /// Builds an address from an IP literal and a port; nullopt when the IP is malformed.
  static std::optional<socket_address> from_ip(std::string_view ip, std::uint16_t port);

  /// Copies a kernel address (AF_INET or AF_INET6).
  static socket_address from_sockaddr(const sockaddr* sa, socklen_t len);

  /// The address as the kernel takes it.
  const sockaddr* data() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  /// Its length in bytes.
  socklen_t size() const { return size_; }
  /// AF_INET or AF_INET6.
  int family() const { return storage_.ss_family; }
  /// The port in host order.
  std::uint16_t port() const;
  /// A copy with another port.
  socket_address with_port(std::uint16_t port) const;
  /// The IP without the port (`10.0.0.1`, `::1`).
  std::string ip_string() const;
  /// `10.0.0.1:6443` or `[::1]:6443`.
  std::string to_string() const;
  /// A hash of the IP only (not the port), for source_hash balancing.
  std::uint64_t ip_hash() const;

  friend bool operator==(const socket_address& a, const socket_address& b);

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

}  // namespace cplb
