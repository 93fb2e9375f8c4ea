#pragma once
#include <chrono>
#include <cstddef>

namespace cplb::proxy {

/// When a session's client last sent a request, for rebalancing, which closes only sessions
/// that have been quiet for `rebalance.quiet` (pure: fed the client's reads and their times).
///
/// A watch only receives, but its client is not silent: over HTTP/2 it keeps sending flow
/// control (WINDOW_UPDATE, 13 bytes), PING (17) and SETTINGS acknowledgements (9), each in a TLS
/// record of a few dozen bytes. A request is larger: its HEADERS frame carries at least a path
/// and, in a TLS record, comes to well over a hundred bytes. So the rule is:
/// - one read of more than `large_read` (128) bytes is a request;
/// - so is a trickle of small reads adding up to more than `small_budget` (1 KiB) within one
///   quiet window (a request split into small pieces, or a client that chatters);
/// - anything less is control traffic, and the client stays quiet.
class client_activity {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr std::size_t large_read = 128;
  static constexpr std::size_t small_budget = 1024;

  /// A session that connected at `now` (its TLS handshake is its first request).
  explicit client_activity(time_point now) : last_request_(now), window_start_(now) {}

  /// The client sent `bytes` at `now`; `quiet` is the backend's rebalance.quiet.
  void on_read(std::size_t bytes, time_point now, std::chrono::nanoseconds quiet) {
    if (bytes > large_read) return request(now);
    if (now - window_start_ >= quiet) {
      window_start_ = now;
      window_bytes_ = 0;
    }
    window_bytes_ += bytes;
    if (window_bytes_ > small_budget) request(now);
  }

  /// True when the client has sent no request for `quiet` by `now`.
  bool quiet_for(std::chrono::nanoseconds quiet, time_point now) const { return now - last_request_ >= quiet; }

 private:
  void request(time_point now) {
    last_request_ = now;
    window_start_ = now;
    window_bytes_ = 0;
  }

  time_point last_request_;
  time_point window_start_;
  std::size_t window_bytes_ = 0;
};

}  // namespace cplb::proxy
