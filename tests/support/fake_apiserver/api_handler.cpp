#include "api_handler.hpp"

#include <cstdio>

#include <boost/beast/http/field.hpp>

namespace cplb::fake_apiserver {

namespace {

namespace http = boost::beast::http;

constexpr std::string_view text_plain = "text/plain; charset=utf-8";

/// `text` as the inside of a JSON string.
std::string json_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}

/// True when no token is required or the request carries `Authorization: Bearer <token>`.
bool authorized(const server_state& state, const request& req) {
  if (state.required_token.empty()) return true;
  const auto header = req[http::field::authorization];
  return std::string_view(header.data(), header.size()) == "Bearer " + state.required_token;
}

/// The /readyz and /healthz answer in the current readiness mode.
reply readiness_reply(const server_state& state, const request& req) {
  switch (state.mode) {
    case readiness::ok:
      return make_reply(req, http::status::ok, text_plain, "ok");
    case readiness::error:
      return make_reply(req, http::status::internal_server_error, text_plain, "[-]etcd failed");
    case readiness::hang:
      return {reply_action::hang, {}};
    case readiness::close:
      return {reply_action::close, {}};
  }
  return {reply_action::close, {}};
}

}  // namespace

reply handle_api_request(server_state& state, const request& req) {
  ++state.counters.requests;
  const auto path = target_path(std::string_view(req.target().data(), req.target().size()));
  if (req.method() != http::verb::get)
    return make_reply(req, http::status::not_found, text_plain, "404 page not found");
  if (path == "/livez") return make_reply(req, http::status::ok, text_plain, "ok");
  if (path == "/version") {
    return make_reply(req, http::status::ok, "application/json",
                      R"({"major":"1","minor":"30","gitVersion":"v1.30.0-fake","name":")" +
                          json_escape(state.name) + "\"}");
  }
  if (path == "/readyz" || path == "/healthz") {
    if (!authorized(state, req))
      return make_reply(req, http::status::unauthorized, text_plain, "Unauthorized");
    return readiness_reply(state, req);
  }
  return make_reply(req, http::status::not_found, text_plain, "404 page not found");
}

}  // namespace cplb::fake_apiserver
