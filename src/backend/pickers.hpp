#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "cplb/backend/picker.hpp"

// One factory per balancing algorithm; make_picker chooses among them.
namespace cplb::backend::detail {

/// Smooth weighted round robin; `seed` sets which server the rotation starts from.
std::unique_ptr<picker> make_round_robin(std::span<const server_ptr> servers, std::uint64_t seed);
/// Lowest active sessions per weight; ties share load by smooth weighted round robin.
std::unique_ptr<picker> make_least_conn(std::span<const server_ptr> servers, std::uint64_t seed);
/// Power of two weighted random choices, the lighter loaded one wins.
std::unique_ptr<picker> make_random_two(std::span<const server_ptr> servers, std::uint64_t seed);
/// Weighted rendezvous hashing of the client key over the server names.
std::unique_ptr<picker> make_source_hash(std::span<const server_ptr> servers);

}  // namespace cplb::backend::detail
