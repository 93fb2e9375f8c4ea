#pragma once
#include "http_reply.hpp"
#include "server_state.hpp"

namespace cplb::fake_apiserver {

/// Answers one data-plane request the way a kube-apiserver would, as `state` says.
reply handle_api_request(server_state& state, const request& req);

}  // namespace cplb::fake_apiserver
