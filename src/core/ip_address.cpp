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

std::string ip_address::to_string() const {
  char out[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), out, sizeof out);
  return out;
}

}  // namespace cplb
