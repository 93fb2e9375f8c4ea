#pragma once
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cplb {

/// An IPv4 or IPv6 address without a port, in network byte order, as rtnetlink carries it.
class ip_address {
 public:
  /// Parses an IP literal (`192.0.2.1`, `2001:db8::1`); nullopt when it is not one.
  static std::optional<ip_address> parse(std::string_view text);
  /// An address of `family` (AF_INET or AF_INET6) from its 4 or 16 bytes.
  static ip_address from_bytes(int family, const void* bytes);

  /// AF_INET or AF_INET6.
  int family() const { return family_; }
  /// 4 or 16.
  std::size_t size() const;
  /// The address bytes (size() of them), network byte order.
  const std::uint8_t* bytes() const { return bytes_.data(); }
  /// The prefix length of a host route: 32 or 128.
  unsigned host_prefix_length() const { return static_cast<unsigned>(size() * 8); }
  /// True for a unicast address a host may own: not unspecified, loopback, multicast, link-local
  /// or (IPv4) broadcast or reserved.
  bool is_global_unicast() const;
  /// `192.0.2.1` or `2001:db8::1` (the canonical form).
  std::string to_string() const;

  friend auto operator<=>(const ip_address&, const ip_address&) = default;

 private:
  int family_ = 0;
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace cplb
