#pragma once
#include <optional>
#include <string_view>

namespace cplb::fake_apiserver {

/// How /readyz and /healthz answer.
enum class readiness {
  ok,     ///< 200 `ok`
  error,  ///< 500 `[-]etcd failed`
  hang,   ///< read the request, never answer, keep the connection open
  close,  ///< close the connection right after reading the request
};

/// Parses `ok|500|hang|close`; nullopt when unknown.
std::optional<readiness> parse_readiness(std::string_view text);

/// The `ok|500|hang|close` spelling of a mode.
std::string_view to_string(readiness mode);

}  // namespace cplb::fake_apiserver
