#include "cplb/core/ip_address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace cplb {

std::optional<ip_address> ip_address::parse(std::string_view text) {
  const std::string copy(text);  // inet_pton wants a terminated string
  in_addr v4{};
  if (::inet_pton(AF_INET, copy.c_str(), &v4) == 1) return ip_address::v4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (::inet_pton(AF_INET6, copy.c_str(), &v6) != 1) return std::nullopt;
  std::array<std::uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), &v6, bytes.size());
  return ip_address::v6(bytes);
}

ip_address ip_address::from_bytes(int family, const void* bytes) {
  std::array<std::uint8_t, 16> copy{};
  if (family != AF_INET6) {
    std::memcpy(copy.data(), bytes, 4);
    return v4(static_cast<std::uint32_t>(copy[0]) << 24 | static_cast<std::uint32_t>(copy[1]) << 16 |
              static_cast<std::uint32_t>(copy[2]) << 8 | copy[3]);
  }
  std::memcpy(copy.data(), bytes, copy.size());
  return v6(copy);
}

int ip_address::family() const { return is_v4() ? AF_INET : AF_INET6; }

bool ip_address::is_global_unicast() const {
  const auto& b = bytes_;
  if (is_v4()) {
    // 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, and 224.0.0.0 up (multicast, reserved, broadcast).
    return b[0] != 0 && b[0] != 127 && !(b[0] == 169 && b[1] == 254) && b[0] < 224;
  }
  const std::array<std::uint8_t, 16> zero{};
  const bool unspecified_or_loopback = std::memcmp(b.data(), zero.data(), 15) == 0 && b[15] <= 1;
  return !unspecified_or_loopback && b[0] != 0xff && !is_link_local();
}

std::string ip_address::to_string() const {
  char out[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), out, sizeof out);
  return out;
}

}  // namespace cplb
