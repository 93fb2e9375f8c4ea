#include "cplb/config/risky_settings.hpp"

namespace cplb::config {

std::vector<std::string> risky_settings(const config& cfg) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < cfg.backends.size(); ++i) {
    const auto& hc = cfg.backends[i].health_check;
    if (hc.bearer_token_file.empty()) continue;
    const std::string key = "backends[" + std::to_string(i) + "].health_check.bearer_token_file";
    if (hc.protocol == check_protocol::http)
      out.push_back(cfg.file + ": " + key + ": warning: the token is sent in clear text (protocol: http)");
    else if (hc.tls.insecure_skip_verify)
      out.push_back(cfg.file + ": " + key +
                    ": warning: the token goes to any server, whatever its certificate (insecure_skip_verify)");
  }
  return out;
}

}  // namespace cplb::config
