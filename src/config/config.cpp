#include "cplb/config/config.hpp"

namespace cplb::config {

const backend_config* config::find_backend(const std::string& name) const {
  for (const auto& b : backends)
    if (b.name == name) return &b;
  return nullptr;
}

const char* to_string(balance_algorithm v) {
  switch (v) {
    case balance_algorithm::round_robin:
      return "round_robin";
    case balance_algorithm::least_conn:
      return "least_conn";
    case balance_algorithm::random_two:
      return "random_two";
    case balance_algorithm::source_hash:
      return "source_hash";
  }
  return "?";
}

const char* to_string(on_server_down_policy v) {
  switch (v) {
    case on_server_down_policy::keep:
      return "keep";
    case on_server_down_policy::close:
      return "close";
    case on_server_down_policy::drain:
      return "drain";
  }
  return "?";
}

const char* to_string(all_down_policy v) {
  switch (v) {
    case all_down_policy::reject:
      return "reject";
    case all_down_policy::any_reachable:
      return "any_reachable";
  }
  return "?";
}

const char* to_string(check_protocol v) {
  switch (v) {
    case check_protocol::https:
      return "https";
    case check_protocol::http:
      return "http";
    case check_protocol::tcp:
      return "tcp";
  }
  return "?";
}

}  // namespace cplb::config
