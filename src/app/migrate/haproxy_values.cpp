#include "haproxy_values.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace cplb::app::migrate::haproxy {
namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

/// `text` without an `ipv4@` or `ipv6@` prefix; nullopt with `why` for a socket that is not
/// TCP (`unix@`, `abns@`, `fd@`, a path).
std::optional<std::string> strip_family(const std::string& text, std::string& why) {
  const auto at = text.find('@');
  if (at == std::string::npos && (text.empty() || text.front() != '/')) return text;
  const std::string family = at == std::string::npos ? "unix" : text.substr(0, at);
  if (family == "ipv4" || family == "ipv6") return text.substr(at + 1);
  why = "'" + text + "' is a " + family + " socket: cplb proxies TCP only";
  return std::nullopt;
}

/// Splits `host:port` as HAProxy does: the port follows the last colon, or `]:` for brackets.
address_or_why host_and_port(const std::string& text, bool wildcard_host) {
  std::string why;
  const auto stripped = strip_family(text, why);
  if (!stripped) return why;
  const std::string& address = *stripped;
  std::string host;
  std::string port;
  if (!address.empty() && address.front() == '[') {
    const auto close = address.find("]:");
    if (close == std::string::npos) return "'" + text + "' has no port";
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    host = address.substr(0, colon == std::string::npos ? address.size() : colon);
    port = colon == std::string::npos ? "" : address.substr(colon + 1);
  }
  if (port.empty())
    return "'" + text + "' has no port: HAProxy then takes the client's, cplb needs one";
  if (!all_digits(port))
    return "'" + text + "': port '" + port + "' is a range or an offset, cplb takes one port";
  unsigned number = 0;
  std::from_chars(port.data(), port.data() + port.size(), number);
  if (number == 0 || number > 65535) return "'" + text + "': port " + port + " is out of range";
  if (wildcard_host && (host.empty() || host == "*")) host = "0.0.0.0";
  auto a = socket_address::from_ip(host, static_cast<std::uint16_t>(number));
  if (!a) return "'" + host + "' is not an IP address: cplb resolves no host names";
  return *a;
}

}  // namespace

std::optional<duration> parse_time(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 12) return std::nullopt;
  long long n = 0;
  std::from_chars(text.data(), text.data() + digits, n);
  const std::string unit = text.substr(digits);
  using namespace std::chrono;
  if (unit == "us") return duration((n + 999) / 1000);
  if (unit.empty() || unit == "ms") return duration(n);
  if (unit == "s") return seconds(n);
  if (unit == "m") return minutes(n);
  if (unit == "h") return hours(n);
  if (unit == "d") return hours(24 * n);
  return std::nullopt;
}

address_or_why server_address(const std::string& text) { return host_and_port(text, false); }

std::vector<address_or_why> bind_addresses(const std::string& text) {
  std::vector<address_or_why> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(host_and_port(text.substr(start, comma - start), true));
    start = comma + 1;
  }
  return out;
}

}  // namespace cplb::app::migrate::haproxy
