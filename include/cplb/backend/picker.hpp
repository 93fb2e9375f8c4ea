#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "cplb/backend/server.hpp"
#include "cplb/config/config.hpp"

namespace cplb::backend {

/// A set of server indexes (bit i = servers[i]).
using server_mask = std::uint64_t;
inline constexpr std::size_t max_servers = config::max_servers_per_backend;
static_assert(max_servers <= 64, "a backend's servers must fit one server_mask");

/// Chooses a server for a new session. Each worker owns its own pickers, so a picker keeps plain
/// (non-atomic) state and needs no lock; it reads the servers' weights and active sessions.
class picker {
 public:
  virtual ~picker() = default;
  /// Index of the chosen server among `eligible`, or -1 when `eligible` is empty.
  /// `client_key` is a hash of the client's address (used by source_hash only).
  virtual int pick(server_mask eligible, std::uint64_t client_key) = 0;
};

/// Makes the picker of an algorithm over `servers` (which must outlive it). `seed` seeds the
/// random choices of random_two (and the starting point of round_robin).
std::unique_ptr<picker> make_picker(config::balance_algorithm algorithm,
                                    std::span<const server_ptr> servers, std::uint64_t seed);

}  // namespace cplb::backend
