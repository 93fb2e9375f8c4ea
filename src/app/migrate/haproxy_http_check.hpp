#pragma once
#include <string>
#include <utility>
#include <vector>

#include "draft.hpp"
#include "haproxy_context.hpp"

namespace cplb::app::migrate::haproxy {

/// What an HTTP check sends and expects, as read from HAProxy's lines.
struct http_request {
  std::string method = "OPTIONS";  // HAProxy's default
  std::string path = "/";
  origin at;  ///< where the path was set
  std::vector<std::pair<std::string, value>> headers;
  field expect_status;
};

/// The request of an `option httpchk` check, from that line and the proxy's `http-check send`
/// and `expect` rules, with a note for what cplb's GET cannot do.
http_request read_http_check(context& ctx, proxy_view& proxy, const directive& option,
                             remarks& notes);

}  // namespace cplb::app::migrate::haproxy
