#include "cplb/backend/picker.hpp"

#include "pickers.hpp"

namespace cplb::backend {

std::unique_ptr<picker> make_picker(config::balance_algorithm algorithm,
                                    std::span<const server_ptr> servers, std::uint64_t seed) {
  switch (algorithm) {
    case config::balance_algorithm::round_robin: return detail::make_round_robin(servers, seed);
    case config::balance_algorithm::random_two: return detail::make_random_two(servers, seed);
    case config::balance_algorithm::source_hash: return detail::make_source_hash(servers);
    case config::balance_algorithm::least_conn: break;
  }
  return detail::make_least_conn(servers, seed);
}

}  // namespace cplb::backend
