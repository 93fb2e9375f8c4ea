#include "bits.hpp"
#include "pickers.hpp"
#include "smooth_weighted.hpp"

namespace cplb::backend::detail {
namespace {

class round_robin final : public picker {
 public:
  round_robin(std::span<const server_ptr> servers, std::uint64_t seed)
      : servers_(servers),
        all_(first_n(servers.size())),
        rotation_(servers.size(), start_offset(servers.size(), seed)) {}

  int pick(server_mask eligible, std::uint64_t) override {
    return rotation_.next(servers_, eligible & all_);
  }

 private:
  std::span<const server_ptr> servers_;
  server_mask all_;
  smooth_weighted rotation_;
};

}  // namespace

std::unique_ptr<picker> make_round_robin(std::span<const server_ptr> servers, std::uint64_t seed) {
  return std::make_unique<round_robin>(servers, seed);
}

}  // namespace cplb::backend::detail
