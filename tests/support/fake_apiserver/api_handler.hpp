#pragma once
#include <memory>

#include "http_reply.hpp"
#include "server_state.hpp"

namespace cplb::fake_apiserver {

/// Answers one data-plane request the way a kube-apiserver would, as `state` says: `GET /watch`
/// starts a watch; while the server shuts down every answer closes its connection.
reply handle_api_request(const std::shared_ptr<server_state>& state, const request& req);

}  // namespace cplb::fake_apiserver
