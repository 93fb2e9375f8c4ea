#include "scalars.hpp"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cstdio>

namespace cplb::config::detail {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string range_text(std::uint64_t min, std::uint64_t max) {
  return "(" + std::to_string(min) + "-" + std::to_string(max) + ")";
}

/// Reads a decimal number within min..max; `why` names the problem otherwise.
std::optional<std::uint64_t> parse_whole(std::string_view text, std::uint64_t min,
                                         std::uint64_t max, std::string& why) {
  bool negative = !text.empty() && text.front() == '-';
  std::string_view digits = negative ? text.substr(1) : text;
  if (!all_digits(digits)) {
    why = "'" + std::string(text) + "' is not a whole number";
    return std::nullopt;
  }
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (negative || ec != std::errc{} || value < min || value > max) {
    why = std::string(text) + " is out of range " + range_text(min, max);
    return std::nullopt;
  }
  return value;
}

/// The longest duration a key takes: ten years, far below where deadlines would overflow.
constexpr duration max_duration = std::chrono::hours(87600);

/// `1.25`, `100`: the shortest text of a decimal bound.
std::string decimal_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

scalar_rule<std::string> any_text() {
  return {"text",
          [](const std::string& text, std::string&) -> std::optional<std::string> { return text; }};
}

scalar_rule<std::string> name_text() {
  return {"a name", [](const std::string& text, std::string& why) -> std::optional<std::string> {
            bool ok = !text.empty() && text.size() <= 63 &&
                      std::isalnum(static_cast<unsigned char>(text.front()));
            for (char c : text)
              ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                          c == '-');
            if (ok) return text;
            why = "'" + text +
                  "' is not a valid name (a letter or digit, then letters, digits, '.', '_' or "
                  "'-'; at most 63)";
            return std::nullopt;
          }};
}

scalar_rule<std::uint64_t> whole_number(std::uint64_t min, std::uint64_t max) {
  return {"a whole number", [min, max](const std::string& text, std::string& why) {
            return parse_whole(text, min, max, why);
          }};
}

scalar_rule<std::uint64_t> byte_size(std::uint64_t min, std::uint64_t max) {
  return {"a size like 256MiB", [min, max](const std::string& text, std::string& why) -> std::optional<std::uint64_t> {
            const auto digits = text.find_first_not_of("0123456789");
            const std::string_view unit = digits == std::string::npos ? "" : std::string_view(text).substr(digits);
            std::uint64_t scale = 0;
            if (unit.empty()) scale = 1;
            else if (unit == "KiB") scale = 1ull << 10;
            else if (unit == "MiB") scale = 1ull << 20;
            else if (unit == "GiB") scale = 1ull << 30;
            std::string ignored;
            const auto value = scale == 0 ? std::nullopt
                                          : parse_whole(std::string_view(text).substr(0, digits), 0, max / scale, ignored);
            if (!value) {
              why = "'" + text + "' is not a size (a whole number, optionally KiB, MiB or GiB)";
              return std::nullopt;
            }
            if (*value * scale < min || *value * scale > max) {
              why = text + " is out of range (" + std::to_string(min >> 10) + "KiB-" + std::to_string(max >> 30) + "GiB)";
              return std::nullopt;
            }
            return *value * scale;
          }};
}

scalar_rule<double> decimal_number(double min, double max) {
  return {"a number like 1.25", [min, max](const std::string& text, std::string& why) -> std::optional<double> {
            double value = 0;
            const auto* end = text.data() + text.size();
            const auto [last, error] = std::from_chars(text.data(), end, value);
            if (error != std::errc{} || last != end || text.empty()) {
              why = "'" + text + "' is not a number";
              return std::nullopt;
            }
            if (value < min || value > max) {
              why = text + " is out of range (" + decimal_text(min) + "-" + decimal_text(max) + ")";
              return std::nullopt;
            }
            return value;
          }};
}

scalar_rule<duration> duration_at_least(duration min) {
  return {"a duration like 2s",
          [min](const std::string& text, std::string& why) -> std::optional<duration> {
            auto d = parse_duration(text);
            if (!d) {
              why = "'" + text + "' is not a duration (write a whole number and a unit: 250ms, " +
                    "2s, 1m or 1h)";
              return std::nullopt;
            }
            if (*d > max_duration) {
              why = text + " is too long (at most " + format_duration(max_duration) + ")";
              return std::nullopt;
            }
            if (*d < min) {
              why = min == duration(1)
                        ? text + " must be greater than 0"
                        : text + " is too short (at least " + format_duration(min) + ")";
              return std::nullopt;
            }
            return d;
          }};
}

scalar_rule<bool> boolean() {
  return {"true or false", [](const std::string& text, std::string& why) -> std::optional<bool> {
            bool value = false;
            if (YAML::convert<bool>::decode(YAML::Node(text), value)) return value;
            why = "'" + text + "' is not true or false";
            return std::nullopt;
          }};
}

scalar_rule<address_value> ip_address_with_port() {
  return {"an address like 10.0.0.1:6443",
          [](const std::string& text, std::string& why) -> std::optional<address_value> {
            std::string host;
            std::string port_text;
            if (!text.empty() && text.front() == '[') {
              auto close = text.find("]:");
              if (close == std::string::npos) {
                why = "'" + text + "' is not an address (write [IPv6]:PORT)";
                return std::nullopt;
              }
              host = text.substr(1, close - 1);
              port_text = text.substr(close + 2);
              if (host.find(':') == std::string::npos) {
                why = "'" + text + "': brackets are only for IPv6 addresses";
                return std::nullopt;
              }
            } else {
              auto colon = text.rfind(':');
              if (colon == std::string::npos) {
                why = "'" + text + "' has no port (write IP:PORT or [IPv6]:PORT)";
                return std::nullopt;
              }
              host = text.substr(0, colon);
              port_text = text.substr(colon + 1);
              if (host.find(':') != std::string::npos) {
                why = "'" + text + "': an IPv6 address needs brackets, as in [::1]:6443";
                return std::nullopt;
              }
            }
            if (!all_digits(port_text)) {
              why = "'" + text + "' has no valid port (write IP:PORT or [IPv6]:PORT)";
              return std::nullopt;
            }
            std::string port_why;
            auto port = parse_whole(port_text, 1, 65535, port_why);
            if (!port) {
              why = "port " + port_why;
              return std::nullopt;
            }
            auto address = socket_address::from_ip(host, static_cast<std::uint16_t>(*port));
            if (!address) {
              why = "'" + host + "' is not an IP address (cplb does not resolve host names)";
              return std::nullopt;
            }
            return address_value{*address, host};
          }};
}

scalar_rule<ip_address> ip_literal() {
  return {"an IPv4 or IPv6 address",
          [](const std::string& text, std::string& why) -> std::optional<ip_address> {
            auto a = ip_address::parse(text);
            if (!a) why = "'" + text + "' is not an IP address";
            return a;
          }};
}

scalar_rule<ip_cidr> ip_prefix() {
  return {"an IP prefix like 10.0.0.100/24 or 2001:db8::100/64",
          [](const std::string& text, std::string& why) -> std::optional<ip_cidr> {
            const auto slash = text.find('/');
            const auto a = ip_address::parse(text.substr(0, slash));
            const unsigned host_length = a && a->is_v6() ? 128 : 32;
            std::string length_why;
            const auto length = slash == std::string::npos
                                    ? std::optional<std::uint64_t>(host_length)
                                    : parse_whole(text.substr(slash + 1), 1, host_length, length_why);
            if (!a || !length) {
              why = "'" + text + "' is not an IP address with a prefix length, as in " +
                    "10.0.0.100/24 or 2001:db8::100/64";
              return std::nullopt;
            }
            return ip_cidr{*a, static_cast<unsigned>(*length), text};
          }};
}

}  // namespace cplb::config::detail
