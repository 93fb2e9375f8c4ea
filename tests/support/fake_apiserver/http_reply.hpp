#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

namespace cplb::fake_apiserver {

class watch_feed;

/// An HTTP request as read by a session.
using request = boost::beast::http::request<boost::beast::http::string_body>;
/// An HTTP response as written by a session.
using response = boost::beast::http::response<boost::beast::http::string_body>;

/// What a session does with a request.
enum class reply_action {
  respond,  ///< write `message`
  hang,     ///< never answer; keep reading and discarding until the client goes
  close,    ///< close the connection at once
  watch,    ///< write `message` as the header of a chunked stream of `feed`'s events
};

/// A handler's answer to one request.
struct reply {
  reply_action action = reply_action::respond;  ///< what to do
  response message;                             ///< written when action is respond or watch
  std::shared_ptr<watch_feed> feed = nullptr;   ///< the events when action is watch
};

/// Turns a request into a reply.
using request_handler = std::function<reply(const request&)>;

/// A complete response with this status, content type and body, kept alive as the request asks.
reply make_reply(const request& req, boost::beast::http::status status, std::string_view content_type,
                 std::string body);

/// The path of a request target, without the query.
std::string_view target_path(std::string_view target);

}  // namespace cplb::fake_apiserver
