#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cplb/vrrp/advert.hpp"

namespace cplb::vrrp::test {

/// `100_cs`: centiseconds, the unit of VRRPv3 intervals.
constexpr centiseconds operator""_cs(unsigned long long count) {
  return centiseconds(static_cast<std::int64_t>(count));
}

/// `a.b.c.d` as a host-order IPv4 address, as the IPv4 shells use them.
constexpr ipv4_address ipv4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return a << 24 | b << 16 | c << 8 | d;
}

/// `a.b.c.d`.
constexpr ip_address ip(unsigned a, unsigned b, unsigned c, unsigned d) {
  return ip_address::v4(ipv4(a, b, c, d));
}

/// An IPv6 address from its text; throws on a typo.
inline ip_address ip6(std::string_view text) {
  const auto a = ip_address::parse(text);
  if (!a || !a->is_v6()) throw std::invalid_argument(std::string(text) + " is not IPv6");
  return *a;
}

/// Bytes from a hex string; spaces are skipped.
inline std::vector<std::uint8_t> from_hex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  std::string digits;
  for (const char c : hex)
    if (c != ' ') digits += c;
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  return out;
}

/// Lower-case hex of bytes, no spaces.
inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

}  // namespace cplb::vrrp::test
