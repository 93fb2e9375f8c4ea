#pragma once
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cplb/core/duration.hpp"
#include "cplb/core/socket_address.hpp"

// HAProxy's ways of writing times and addresses, read into cplb's.
namespace cplb::app::migrate::haproxy {

/// `5000` (milliseconds), `100us`, `250ms`, `2s`, `1m`, `1h`, `1d`; microseconds round up.
std::optional<duration> parse_time(const std::string& text);

/// An address, or why cplb cannot use it.
using address_or_why = std::variant<socket_address, std::string>;

/// A server's `ADDR:PORT` (`10.0.0.11:6443`, `ipv4@10.0.0.11:6443`, `[::1]:6443`, `::1:6443`).
address_or_why server_address(const std::string& text);

/// The addresses of a `bind` word: `*:6443`, `:6443`, `10.0.0.1:6443`, `:::6443`, and lists of
/// them separated by commas.
std::vector<address_or_why> bind_addresses(const std::string& text);

}  // namespace cplb::app::migrate::haproxy
