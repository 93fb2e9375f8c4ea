#pragma once
#include <cstddef>
#include <cstdint>

// How much a session's byte pump moves at a time (session.cpp, session_sockmap.cpp).
namespace cplb::proxy::pump_limits {

/// Long sessions publish their byte counts in chunks of this size, not only at the end.
inline constexpr std::uint64_t counter_flush_bytes = 1 << 20;
/// Bytes one direction may move per turn before yielding to other sessions.
inline constexpr std::size_t bytes_per_turn = 1 << 20;

/// How much a read takes, so that a slow reader costs little user-space memory however fast its
/// server sends (what the other leg cannot take is kept as a backlog): a read that follows a
/// short one takes at most `opening_read`; one that follows a full one takes the whole scratch
/// buffer, unless the other leg has more than `behind_queue` unsent (it is behind: `behind_read`).
/// Over max_buffer_memory, a direction reads only while the other leg has less than
/// `behind_read` unsent (it keeps up, so what is read leaves at once and holds nothing), and at
/// most `behind_read`: a new session's request still passes.
inline constexpr std::size_t opening_read = 64 * 1024;
inline constexpr int behind_queue = 64 * 1024;
inline constexpr std::size_t behind_read = 16 * 1024;

}  // namespace cplb::proxy::pump_limits
