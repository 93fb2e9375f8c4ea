#pragma once
#include <unordered_set>

#include "cplb/admin/server.hpp"

namespace cplb::admin {

class connection;

/// What the acceptors and connections of one admin server share; it outlives the server while
/// any of them has a handler pending. Control thread only.
struct shared_state {
  handlers answers;
  limits bounds;
  std::unordered_set<connection*> connections;  ///< the open ones
};

/// Closes every open connection of `state`.
void close_connections(shared_state& state);

}  // namespace cplb::admin
