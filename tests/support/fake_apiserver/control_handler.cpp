#include "control_handler.hpp"

#include <string>

namespace cplb::fake_apiserver {

namespace {

namespace http = boost::beast::http;

constexpr std::string_view text_plain = "text/plain; charset=utf-8";

/// The value of `key` in the query of `target`; empty when absent.
std::string_view query_value(std::string_view target, std::string_view key) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return {};
  auto query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    if (pair.starts_with(key) && pair.substr(key.size()).starts_with('=')) return pair.substr(key.size() + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

/// The /stats JSON.
std::string stats_json(const stats& counters) {
  return "{\"connections\":" + std::to_string(counters.connections) +
         ",\"requests\":" + std::to_string(counters.requests) +
         ",\"active\":" + std::to_string(counters.active) +
         ",\"watches\":" + std::to_string(counters.watches) + "}";
}

}  // namespace

reply handle_control_request(server_state& state, const request& req) {
  const std::string_view target(req.target().data(), req.target().size());
  const auto path = target_path(target);
  if (req.method() == http::verb::get && path == "/readiness") {
    const auto mode = parse_readiness(query_value(target, "mode"));
    if (!mode)
      return make_reply(req, http::status::bad_request, text_plain, "mode must be ok|500|hang|close\n");
    state.mode = *mode;
    return make_reply(req, http::status::ok, text_plain, "readiness=" + std::string(to_string(*mode)) + "\n");
  }
  if (req.method() == http::verb::get && path == "/stats") {
    return make_reply(req, http::status::ok, "application/json", stats_json(state.counters));
  }
  return make_reply(req, http::status::not_found, text_plain, "404 page not found\n");
}

}  // namespace cplb::fake_apiserver
