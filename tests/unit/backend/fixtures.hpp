#pragma once
#include <string>
#include <vector>

#include "cplb/backend/picker.hpp"
#include "cplb/backend/server.hpp"

// Helpers shared by the backend unit tests.
namespace cplb::backend::test {

/// The config of server `s<index>` at 10.0.<index / 256>.<index % 256>:6443.
inline config::server_config server_cfg(unsigned index, unsigned weight = 1) {
  config::server_config c;
  c.name = "s" + std::to_string(index);
  c.host = "10.0." + std::to_string(index / 256) + "." + std::to_string(index % 256);
  c.address = *socket_address::from_ip(c.host, 6443);
  c.weight = weight;
  return c;
}

/// Servers s<first>.. with the given weights, all up.
inline std::vector<server_ptr> make_servers(const std::vector<unsigned>& weights,
                                            unsigned first = 0) {
  std::vector<server_ptr> servers;
  for (unsigned i = 0; i < weights.size(); ++i) {
    servers.push_back(std::make_shared<server>(server_cfg(first + i, weights[i]), 1));
    servers.back()->set_state(server_state::up, down_reason::none, "");
  }
  return servers;
}

/// `count` servers of weight 1, all up.
inline std::vector<server_ptr> make_servers(std::size_t count) {
  return make_servers(std::vector<unsigned>(count, 1));
}

/// The mask of the first `n` servers.
inline server_mask all_of(std::size_t n) {
  return n >= max_servers ? ~server_mask{0} : (server_mask{1} << n) - 1;
}

/// How many of `picks` picks went to each server, with every pick among `eligible`.
inline std::vector<int> count_picks(picker& p, std::size_t servers, int picks,
                                    server_mask eligible) {
  std::vector<int> counts(servers, 0);
  for (int k = 0; k < picks; ++k) {
    const int i = p.pick(eligible, static_cast<std::uint64_t>(k));
    if (i < 0 || static_cast<std::size_t>(i) >= servers) return {};
    ++counts[static_cast<std::size_t>(i)];
  }
  return counts;
}

}  // namespace cplb::backend::test
