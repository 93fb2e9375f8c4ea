#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cplb/config/config.hpp"

// Internal to the config module: how each kind of scalar value is read from its YAML text.
namespace cplb::config::detail {

/// How to read one kind of scalar: what it should look like, and a parser that says why not.
template <typename T>
struct scalar_rule {
  /// What a value should be, for type errors: "a duration like 2s".
  std::string what;
  /// The value, or nullopt with `why` set to a message for the user.
  std::function<std::optional<T>(const std::string& text, std::string& why)> parse;
};

/// An IP literal address with its port, and the IP as written (no brackets).
struct address_value {
  socket_address address;
  std::string host;
};

/// Any text.
scalar_rule<std::string> any_text();
/// A name of a frontend, backend, server or VRRP instance: letters, digits, `.`, `_`, `-`.
scalar_rule<std::string> name_text();
/// A whole number in min..max.
scalar_rule<std::uint64_t> whole_number(std::uint64_t min, std::uint64_t max);
/// A size: `512KiB`, `256MiB`, `1GiB` or a plain number of bytes, in min..max.
scalar_rule<std::uint64_t> byte_size(std::uint64_t min, std::uint64_t max);
/// A decimal number like `1.25` in min..max.
scalar_rule<double> decimal_number(double min, double max);
/// A duration (`250ms`, `2s`, `1m`, `1h`) of at least `min`.
scalar_rule<duration> duration_at_least(duration min);
/// `true` or `false` (and YAML's yes/no, on/off).
scalar_rule<bool> boolean();
/// `a.b.c.d:port` or `[v6]:port`, port 1..65535.
scalar_rule<address_value> ip_address_with_port();
/// An IPv4 or IPv6 literal.
scalar_rule<ip_address> ip_literal();
/// `a.b.c.d/len` (len 1..32) or `v6/len` (len 1..128); a bare literal means /32 or /128.
scalar_rule<ip_cidr> ip_prefix();

/// One of the names of an enum, as listed in `names`.
template <typename E>
scalar_rule<E> one_of(std::string noun, std::initializer_list<std::pair<const char*, E>> names) {
  std::vector<std::pair<std::string, E>> table(names.begin(), names.end());
  std::string valid;
  for (const auto& [name, value] : table) valid += (valid.empty() ? "" : " | ") + name;
  return {"one of " + valid,
          [noun = std::move(noun), table = std::move(table), valid](
              const std::string& text, std::string& why) -> std::optional<E> {
            for (const auto& [name, value] : table)
              if (name == text) return value;
            why = "unknown " + noun + " '" + text + "' (valid: " + valid + ")";
            return std::nullopt;
          }};
}

}  // namespace cplb::config::detail
