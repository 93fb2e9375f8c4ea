#include <array>

#include "bits.hpp"
#include "pickers.hpp"

namespace cplb::backend::detail {
namespace {

class random_two final : public picker {
 public:
  random_two(std::span<const server_ptr> servers, std::uint64_t seed)
      : servers_(servers), all_(first_n(servers.size())), random_(seed) {}

  int pick(server_mask eligible, std::uint64_t) override {
    eligible &= all_;
    if (eligible == 0) return -1;
    // One load of each weight, so both draws see the same weights even during a reload.
    std::array<std::int64_t, max_servers> weights{};
    for (server_mask m = eligible; m != 0; m &= m - 1) {
      const int i = lowest(m);
      weights[i] = weight_of(*servers_[i]);
    }
    const int first = draw(eligible, weights);
    const server_mask rest = eligible & ~bit(first);
    if (rest == 0) return first;
    const int second = draw(rest, weights);
    // On a tie the first draw wins, so with equal loads the shares follow the weights exactly.
    const bool second_lighter = lighter(servers_[second]->active_sessions(), weights[second],
                                        servers_[first]->active_sessions(), weights[first]);
    return second_lighter ? second : first;
  }

 private:
  // A server of the non-empty `among`, with probability proportional to its weight.
  int draw(server_mask among, const std::array<std::int64_t, max_servers>& weights) {
    std::int64_t total = 0;
    for (server_mask m = among; m != 0; m &= m - 1) total += weights[lowest(m)];
    auto r = static_cast<std::int64_t>(random_.next() % static_cast<std::uint64_t>(total));
    server_mask m = among;
    for (; r >= weights[lowest(m)]; m &= m - 1) r -= weights[lowest(m)];
    return lowest(m);
  }

  std::span<const server_ptr> servers_;
  server_mask all_;
  splitmix64 random_;
};

}  // namespace

std::unique_ptr<picker> make_random_two(std::span<const server_ptr> servers, std::uint64_t seed) {
  return std::make_unique<random_two>(servers, seed);
}

}  // namespace cplb::backend::detail
