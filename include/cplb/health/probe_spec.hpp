#pragma once
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cplb/config/config.hpp"
#include "cplb/core/duration.hpp"

namespace cplb::health {

/// How to probe the servers of one backend, prepared from its `health_check:` once per apply:
/// the bearer token file is read and the TLS context built here, not per probe.
struct probe_spec {
  config::check_protocol protocol = config::check_protocol::https;
  std::string path;        ///< request target
  std::uint16_t port = 0;  ///< 0 = the server's port
  duration interval{0};
  duration fast_interval{0};  ///< instead of interval after a result that disagrees with the state
  duration timeout{0};  ///< one deadline for the whole probe
  std::vector<unsigned> expect_status;
  std::vector<std::pair<std::string, std::string>>
      headers;              ///< configured headers, then Authorization
  std::string server_name;  ///< SNI and verified name; empty = the server's host
  bool verify = true;       ///< false with insecure_skip_verify
  std::shared_ptr<boost::asio::ssl::context> tls;  ///< set for https only
};

/// Largest response body a probe reads; a larger one fails with `response_too_large`.
inline constexpr std::size_t max_response_body = 64 * 1024;
/// Largest response header a probe reads.
inline constexpr std::size_t max_response_header = 16 * 1024;

/// Prepares the probes of `cfg`. Throws std::runtime_error naming the file when the bearer token,
/// CA, certificate or key cannot be read or does not fit.
std::shared_ptr<const probe_spec> make_probe_spec(const config::health_check_config& cfg);

}  // namespace cplb::health
