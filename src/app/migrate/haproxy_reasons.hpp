#pragma once
#include <string>

#include "haproxy_servers.hpp"
#include "haproxy_syntax.hpp"

// Why cplb does not carry over a directive, in a few words for the output's comments.
namespace cplb::app::migrate::haproxy {

/// Why the line `d` is not carried over.
std::string why_not(const directive& d);

/// Why the server option `o` is not carried over.
std::string why_not(const server_option& o);

/// Why a whole section of kind `kind` (userlist, peers, resolvers, ...) is not carried over.
std::string why_not_section(const std::string& kind);

}  // namespace cplb::app::migrate::haproxy
