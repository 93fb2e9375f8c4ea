#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "server_state.hpp"

namespace cplb::fake_apiserver {

/// The events of one watch, framed as HTTP/1.1 chunks; counted in /stats as an open watch for as
/// long as it lives.
class watch_feed {
 public:
  /// The chunk that ends a chunked body.
  static constexpr std::string_view last_chunk = "0\r\n\r\n";

  /// Counts a new watch of `state`.
  explicit watch_feed(std::shared_ptr<server_state> state);
  watch_feed(const watch_feed&) = delete;
  watch_feed& operator=(const watch_feed&) = delete;
  /// Stops counting the watch.
  ~watch_feed();

  /// The next event, `{"type":"BOOKMARK","server":NAME,"seq":N}\n`, as one chunk; seq counts from 0.
  std::string next_chunk();

  /// How long to wait between two events.
  std::chrono::milliseconds interval() const;

  /// The server the watch belongs to.
  server_state& state() const;

 private:
  std::shared_ptr<server_state> state_;  ///< counts the watch
  std::uint64_t seq_ = 0;                ///< of the next event
};

}  // namespace cplb::fake_apiserver
