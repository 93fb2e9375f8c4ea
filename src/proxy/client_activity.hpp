#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "cplb/proxy/handover.hpp"

namespace cplb::proxy {

/// When a session's client last sent a request, for rebalancing, which closes only sessions
/// whose client has sent none for `rebalance.quiet` (pure: fed the client's bytes and times).
///
/// A watch only receives, but its client is not silent: over HTTP/2 it sends flow control
/// (WINDOW_UPDATE, 13 bytes a frame), PING (17) and SETTINGS acknowledgements (9), each flush in
/// one TLS record of a few dozen bytes (a PING is 34 with TLS 1.3's 17 bytes of overhead). A
/// request's HEADERS frame carries its path, which for the API's resources (a namespace, a
/// name, a resourceVersion) does not fit in that, and a request with a body carries DATA. So,
/// on a TLS stream (it starts with a handshake record), records are followed across reads and:
/// - a handshake record, or an application-data record longer than `control_record` (64)
///   bytes, is a request;
/// - shorter records are control traffic, unless they add up to more than `control_budget`
///   (512 bytes) within one quiet window: a chattering client, or many small requests.
/// On a plaintext stream a read stands for a record. What this cannot tell: a request that HPACK
/// has compressed below 64 bytes (a short path, or the very same GET repeated on a connection)
/// looks like control traffic, unless there are enough of them to pass the budget.
class client_activity {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr std::size_t control_record = 64;
  static constexpr std::size_t control_budget = 512;

  /// A session that connected at `now`: its first bytes are a request (a TLS ClientHello).
  explicit client_activity(time_point now) : last_request_(now), window_start_(now) {}

  /// The client sent `bytes` at `now`; `quiet` is the backend's rebalance.quiet.
  void on_bytes(std::span<const char> bytes, time_point now, std::chrono::nanoseconds quiet);
  /// The client sent `size` bytes that were moved without being looked at (a bulk upload, by
  /// splice): a request. Within the current TLS record the records are still followed; past its
  /// end their headers went unseen, and from then on each read stands for a record, as on a
  /// plaintext stream.
  void on_unseen(std::size_t size, time_point now, std::chrono::nanoseconds quiet);

  /// What it knows at `now`, to resume in another process (binary upgrade), and the resumption.
  handed_activity save(time_point now) const;
  static client_activity restore(const handed_activity& saved, time_point now);

  /// True when the client has sent no request for `quiet` by `now`.
  bool quiet_for(std::chrono::nanoseconds quiet, time_point now) const { return now - last_request_ >= quiet; }

 private:
  /// One whole TLS record (or plaintext read) of `size` bytes; `request` when it is one for sure.
  void on_record(std::size_t size, bool request, time_point now, std::chrono::nanoseconds quiet);

  enum class framing : std::uint8_t { unknown, tls, plain };

  time_point last_request_;
  time_point window_start_;
  std::size_t window_bytes_ = 0;
  framing framing_ = framing::unknown;
  std::uint8_t header_[5] = {};
  std::size_t header_have_ = 0;  ///< bytes of the next record header read so far
  std::size_t record_left_ = 0;  ///< bytes of the current record not yet seen
};

}  // namespace cplb::proxy
