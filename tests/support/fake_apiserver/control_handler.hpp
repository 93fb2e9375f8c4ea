#pragma once
#include "http_reply.hpp"
#include "server_state.hpp"

namespace cplb::fake_apiserver {

/// Answers the control listener: `GET /readiness?mode=ok|500|hang|close` and `GET /stats`.
reply handle_control_request(server_state& state, const request& req);

}  // namespace cplb::fake_apiserver
