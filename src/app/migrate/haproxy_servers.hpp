#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "haproxy_proxy.hpp"

namespace cplb::app::migrate::haproxy {

/// One keyword of a `server` or `default-server` line with its arguments: `inter 3s`.
struct server_option {
  std::string keyword;
  std::vector<std::string> args;
  origin at;  ///< the line it is written on (a default-server line for inherited options)

  std::string text() const;
  /// The first argument, or empty.
  std::string arg() const { return args.empty() ? "" : args.front(); }
};

/// A `server` line with the options that apply to it: those of the `default-server` lines
/// before it (in its defaults section, then its own), overridden by its own.
struct server_line {
  const directive* line = nullptr;
  std::string name;
  std::string address;
  std::vector<server_option> options;

  /// The option `keyword`, or nullptr.
  const server_option* find(std::string_view keyword) const;
  bool has(std::string_view keyword) const { return find(keyword) != nullptr; }
  /// Whether its checks run over TLS (`check-ssl`, or `ssl` without `no-check-ssl`).
  bool checks_over_tls() const;
};

/// The server lines of a proxy, in order, with their effective options.
std::vector<server_line> read_servers(proxy_view& proxy);

/// Whether a `no-X` option is the negation of a flag, as opposed to a keyword of its own.
bool is_negation(std::string_view keyword);

}  // namespace cplb::app::migrate::haproxy
