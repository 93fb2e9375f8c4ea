#include "cplb/core/socket_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace cplb {

namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// FNV-1a over raw bytes, then a final avalanche (splitmix64) so neighbouring IPs spread out.
std::uint64_t hash_bytes(const void* data, std::size_t n) {
  std::uint64_t h = 1469598103934665603ull;
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

}  // namespace

std::optional<socket_address> socket_address::from_ip(std::string_view ip, std::uint16_t port) {
  const std::string host(ip);
  sockaddr_in v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    return from_sockaddr(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
  }
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    return from_sockaddr(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
  }
  return std::nullopt;
}

std::optional<socket_address> socket_address::parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;  // brackets are for v6
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // v6 needs brackets
  }
  const auto port_number = parse_port(port);
  if (!port_number || host.empty()) return std::nullopt;
  return from_ip(host, *port_number);
}

socket_address socket_address::from_sockaddr(const sockaddr* sa, socklen_t len) {
  socket_address out;
  const auto n = std::min<std::size_t>(len, sizeof out.storage_);
  std::memcpy(&out.storage_, sa, n);
  out.size_ = static_cast<socklen_t>(n);
  return out;
}

std::uint16_t socket_address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

socket_address socket_address::with_port(std::uint16_t port) const {
  socket_address out = *this;
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&out.storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&out.storage_)->sin6_port = htons(port);
  return out;
}

std::string socket_address::ip_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
  else if (family() == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf, sizeof buf);
  return buf;
}

std::string format_ipv4(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

std::string socket_address::to_string() const {
  const auto port_text = std::to_string(port());
  if (family() == AF_INET6) return "[" + ip_string() + "]:" + port_text;
  return ip_string() + ":" + port_text;
}

std::uint64_t socket_address::ip_hash() const {
  if (family() == AF_INET)
    return hash_bytes(&reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, 4);
  if (family() == AF_INET6)
    return hash_bytes(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, 16);
  return 0;
}

bool operator==(const socket_address& a, const socket_address& b) {
  return a.size_ == b.size_ && std::memcmp(&a.storage_, &b.storage_, a.size_) == 0;
}

}  // namespace cplb
