#include "api_handler.hpp"

#include <boost/beast/http/field.hpp>

#include "json_text.hpp"
#include "watch_feed.hpp"

namespace cplb::fake_apiserver {

namespace {

namespace http = boost::beast::http;

constexpr std::string_view text_plain = "text/plain; charset=utf-8";

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

/// The start of a watch: a 200 header for a chunked body of events.
reply watch_reply(const std::shared_ptr<server_state>& state, const request& req) {
  if (state->closing)
    return make_reply(req, http::status::service_unavailable, text_plain, "shutting down");
  reply out{reply_action::watch, response(http::status::ok, req.version()),
            std::make_shared<watch_feed>(state)};
  out.message.set(http::field::server, "fake-apiserver");
  out.message.set(http::field::content_type, "application/json");
  out.message.chunked(true);
  return out;
}

/// The answer before the shutdown rule.
reply answer(const std::shared_ptr<server_state>& shared, const request& req) {
  server_state& state = *shared;
  const auto path = target_path(std::string_view(req.target().data(), req.target().size()));
  if (req.method() != http::verb::get)
    return make_reply(req, http::status::not_found, text_plain, "404 page not found");
  if (path == "/livez") return make_reply(req, http::status::ok, text_plain, "ok");
  if (path == "/watch") return watch_reply(shared, req);
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

}  // namespace

reply handle_api_request(const std::shared_ptr<server_state>& state, const request& req) {
  ++state->counters.requests;
  reply out = answer(state, req);
  if (state->closing && out.action == reply_action::respond) out.message.keep_alive(false);
  return out;
}

}  // namespace cplb::fake_apiserver
