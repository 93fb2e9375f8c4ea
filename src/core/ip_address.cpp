#include "cplb/core/ip_address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace cplb {

std::optional<ip_address> ip_address::parse(std::string_view text) {
  const std::string s(text);
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET, s.c_str(), bytes.data()) == 1) return from_bytes(AF_INET, bytes.data());
  if (inet_pton(AF_INET6, s.c_str(), bytes.data()) == 1) return from_bytes(AF_INET6, bytes.data());
  return std::nullopt;
}

ip_address ip_address::from_bytes(int family, const void* bytes) {
  ip_address a;
  a.family_ = family;
  std::memcpy(a.bytes_.data(), bytes, a.size());
  return a;
}

std::size_t ip_address::size() const { return family_ == AF_INET6 ? 16 : 4; }

bool ip_address::is_global_unicast() const {
  const auto* b = bytes_.data();
  if (family_ == AF_INET) {
    // 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, and 224.0.0.0 up (multicast, reserved, broadcast).
    return b[0] != 0 && b[0] != 127 && !(b[0] == 169 && b[1] == 254) && b[0] < 224;
  }
  const std::array<std::uint8_t, 16> zero{};
  const bool unspecified_or_loopback = std::memcmp(b, zero.data(), 15) == 0 && b[15] <= 1;
  const bool link_local = b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
  return !unspecified_or_loopback && b[0] != 0xff && !link_local;
}

std::string ip_address::to_string() const {
  char text[INET6_ADDRSTRLEN];
  if (!inet_ntop(family_, bytes_.data(), text, sizeof text)) return "?";
  return text;
}

}  // namespace cplb
