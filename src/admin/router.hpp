#pragma once
#include <string>
#include <string_view>

#include "cplb/admin/server.hpp"

namespace cplb::admin {

/// What to answer to one request, before it is put on the wire.
struct reply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string allow;  ///< the Allow header of a 405 (empty otherwise)
};

/// A plain-text reply with `status` and `body`.
reply text(unsigned status, std::string body);

/// The Content-Type of /metrics (Prometheus text format 0.0.4).
inline constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Answers `method` on `target` (the query string is ignored): 404 for an unknown path, 405 for
/// a method other than GET or HEAD, 500 when a handler throws.
reply route(std::string_view method, std::string_view target, const handlers& h);

}  // namespace cplb::admin
