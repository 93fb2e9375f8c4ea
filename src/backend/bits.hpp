#pragma once
#include <bit>
#include <cstdint>
#include <string_view>

#include "cplb/backend/picker.hpp"

// Small helpers shared by the pickers: server masks, weights, hashing and a PRNG.
namespace cplb::backend::detail {

/// The mask holding the first `n` servers.
inline server_mask first_n(std::size_t n) {
  return n >= max_servers ? ~server_mask{0} : (server_mask{1} << n) - 1;
}

/// The mask holding only server `i`.
inline server_mask bit(int i) { return server_mask{1} << i; }

/// Index of the lowest server in a non-empty mask.
inline int lowest(server_mask m) { return std::countr_zero(m); }

/// Where a rotation over `n` servers starts for `seed`, so workers do not all start together.
inline unsigned start_offset(std::size_t n, std::uint64_t seed) {
  return n == 0 ? 0 : static_cast<unsigned>(seed % n);
}

/// The weight of a server as the pickers use it: its current (slow-start) weight, at least 1, so
/// no share is ever divided by zero.
inline std::int64_t weight_of(const server& s) { return s.current_weight(); }

/// True when `a` sessions over weight `wa` is a lighter load than `b` over `wb`.
inline bool lighter(std::int64_t a, std::int64_t wa, std::int64_t b, std::int64_t wb) {
  return a * wb < b * wa;
}

/// The splitmix64 finalizer: a fast, well-mixing bijection on 64 bits.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// FNV-1a of `text`, mixed: stable across runs and builds (unlike std::hash).
inline std::uint64_t hash_name(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

/// splitmix64: a tiny, fast PRNG with 64 bits of state.
class splitmix64 {
 public:
  /// Starts the sequence at `seed`.
  explicit splitmix64(std::uint64_t seed) : state_(seed) {}
  /// The next 64 random bits.
  std::uint64_t next() { return mix64(state_ += 0x9e3779b97f4a7c15ULL); }

 private:
  std::uint64_t state_;
};

}  // namespace cplb::backend::detail
