#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace cplb::generation {

/// Why a session ended; counted per frontend in cplb_session_ends_total{reason}.
enum class session_end : std::uint8_t {
  client_closed,   ///< both directions ended cleanly, the client's first
  server_closed,   ///< both directions ended cleanly, the server's first
  client_error,    ///< the client's leg failed (reset, send or receive error)
  server_error,    ///< the server's leg failed after it had connected
  idle_timeout,    ///< nothing moved either way for idle_timeout
  first_data_timeout,  ///< the client sent nothing for first_data_timeout after connecting
  connect_failed,  ///< every connect it was allowed failed
  no_server,       ///< no server was eligible when it arrived
  local_error,     ///< cplb could not open or watch a socket (out of descriptors or memory)
  drained,         ///< closed by on_server_down (close, or the drain after grace)
  rebalanced,      ///< closed (FIN) to move it off an over-full server
  shutdown,        ///< closed when the process stopped (shutdown_grace over)
};

/// Number of session_end values.
inline constexpr std::size_t session_end_count = 12;

/// Every value, in declaration order (the metrics export each, zero or not).
inline constexpr std::array<session_end, session_end_count> all_session_ends{
    session_end::client_closed,  session_end::server_closed, session_end::client_error,
    session_end::server_error,   session_end::idle_timeout,  session_end::first_data_timeout,
    session_end::connect_failed, session_end::no_server,     session_end::local_error,
    session_end::drained,        session_end::rebalanced,    session_end::shutdown};

/// The label value: `client_closed`, `idle_timeout`, ...
const char* to_string(session_end why);

}  // namespace cplb::generation
