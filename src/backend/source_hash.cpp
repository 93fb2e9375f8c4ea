#include <cmath>
#include <vector>

#include "bits.hpp"
#include "pickers.hpp"

namespace cplb::backend::detail {
namespace {

// Weighted rendezvous (highest random weight) hashing: every server scores each key with
// -weight / ln(u), u uniform in (0,1) from hash(key, server name); the best eligible score wins.
// A server wins a key with probability weight / total weight, and taking one server away moves
// only its own keys, each to that key's next-best server.
class source_hash final : public picker {
 public:
  explicit source_hash(std::span<const server_ptr> servers)
      : servers_(servers), all_(first_n(servers.size())) {
    name_hashes_.reserve(servers.size());
    for (const auto& s : servers) name_hashes_.push_back(hash_name(s->name()));
  }

  int pick(server_mask eligible, std::uint64_t client_key) override {
    const std::uint64_t key = mix64(client_key);
    int best = -1;
    double best_score = 0;
    for (server_mask m = eligible & all_; m != 0; m &= m - 1) {
      const int i = lowest(m);
      const std::uint64_t h = mix64(key ^ name_hashes_[i]);
      const double u = (static_cast<double>(h >> 11) + 0.5) * 0x1p-53;  // in (0, 1)
      const double score = -static_cast<double>(weight_of(*servers_[i])) / std::log(u);
      if (best < 0 || score > best_score) {
        best = i;
        best_score = score;
      }
    }
    return best;
  }

 private:
  std::span<const server_ptr> servers_;
  server_mask all_;
  std::vector<std::uint64_t> name_hashes_;
};

}  // namespace

std::unique_ptr<picker> make_source_hash(std::span<const server_ptr> servers) {
  return std::make_unique<source_hash>(servers);
}

}  // namespace cplb::backend::detail
