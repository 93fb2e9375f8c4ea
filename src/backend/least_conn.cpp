#include "bits.hpp"
#include "pickers.hpp"
#include "smooth_weighted.hpp"

namespace cplb::backend::detail {
namespace {

class least_conn final : public picker {
 public:
  least_conn(std::span<const server_ptr> servers, std::uint64_t seed)
      : servers_(servers),
        all_(first_n(servers.size())),
        ties_(servers.size(), start_offset(servers.size(), seed)) {}

  int pick(server_mask eligible, std::uint64_t) override {
    server_mask least = 0;
    std::int64_t least_active = 0;
    std::int64_t least_weight = 1;
    for (server_mask m = eligible & all_; m != 0; m &= m - 1) {
      const int i = lowest(m);
      const std::int64_t active = servers_[i]->active_sessions();
      const std::int64_t w = weight_of(*servers_[i]);
      if (least == 0 || lighter(active, w, least_active, least_weight)) {
        least = bit(i);
        least_active = active;
        least_weight = w;
      } else if (!lighter(least_active, least_weight, active, w)) {
        least |= bit(i);
      }
    }
    return ties_.next(servers_, least);
  }

 private:
  std::span<const server_ptr> servers_;
  server_mask all_;
  smooth_weighted ties_;
};

}  // namespace

std::unique_ptr<picker> make_least_conn(std::span<const server_ptr> servers, std::uint64_t seed) {
  return std::make_unique<least_conn>(servers, seed);
}

}  // namespace cplb::backend::detail
