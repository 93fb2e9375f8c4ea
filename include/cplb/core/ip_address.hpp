#pragma once
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cplb {

/// An IPv4 or IPv6 address without a port, held as on the wire (network byte order). Ordered
/// family first, then numerically, as VRRP compares the addresses of two masters.
class ip_address {
 public:
  /// 0.0.0.0.
  constexpr ip_address() = default;

  /// The IPv4 address `host_order` (10.0.0.1 is 0x0a000001).
  static constexpr ip_address v4(std::uint32_t host_order) {
    ip_address a;
    a.size_ = 4;
    for (int i = 0; i < 4; ++i) a.bytes_[i] = static_cast<std::uint8_t>(host_order >> (24 - 8 * i));
    return a;
  }

  /// The IPv6 address of these 16 bytes.
  static constexpr ip_address v6(const std::array<std::uint8_t, 16>& bytes) {
    ip_address a;
    a.size_ = 16;
    a.bytes_ = bytes;
    return a;
  }

  /// Parses `a.b.c.d` or an IPv6 literal (no brackets, no scope); nullopt when malformed.
  static std::optional<ip_address> parse(std::string_view text);
  /// An address of `family` (AF_INET or AF_INET6) from its 4 or 16 bytes, as rtnetlink gives it.
  static ip_address from_bytes(int family, const void* bytes);

  /// True for IPv4.
  constexpr bool is_v4() const { return size_ == 4; }
  /// True for IPv6.
  constexpr bool is_v6() const { return size_ == 16; }
  /// AF_INET or AF_INET6.
  int family() const;
  /// 4 or 16.
  constexpr std::size_t size() const { return size_; }
  /// The 4 or 16 bytes, network order.
  std::span<const std::uint8_t> bytes() const { return std::span(bytes_).first(size_); }
  /// The prefix length of a host route: 32 or 128.
  constexpr unsigned host_prefix_length() const { return size_ * 8u; }
  /// True for a unicast address a host may own: not unspecified, loopback, multicast, link-local
  /// or (IPv4) broadcast or reserved.
  bool is_global_unicast() const;
  /// The IPv4 address in host order; 0 for IPv6.
  constexpr std::uint32_t v4_value() const {
    if (!is_v4()) return 0;
    return static_cast<std::uint32_t>(bytes_[0]) << 24 | static_cast<std::uint32_t>(bytes_[1]) << 16 |
           static_cast<std::uint32_t>(bytes_[2]) << 8 | bytes_[3];
  }
  /// The 16 bytes of an IPv6 address (the IPv4 bytes then zeros for IPv4).
  constexpr const std::array<std::uint8_t, 16>& raw() const { return bytes_; }
  /// True for IPv6 fe80::/10.
  constexpr bool is_link_local() const { return is_v6() && bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80; }
  /// `10.0.0.1` or `2001:db8::1`.
  std::string to_string() const;

  friend constexpr auto operator<=>(const ip_address&, const ip_address&) = default;

 private:
  std::uint8_t size_ = 4;  ///< declared first: orders IPv4 before IPv6
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace cplb
