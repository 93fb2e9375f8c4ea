#include "cplb/health/response_check.hpp"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>

#include "cplb/health/probe_spec.hpp"

namespace cplb::health {

namespace http = boost::beast::http;
using backend::down_reason;

void limit_response(response_parser& parser) {
  parser.header_limit(max_response_header);
  parser.body_limit(max_response_body);
}

response_verdict judge_status(unsigned status, std::span<const unsigned> expected) {
  if (std::find(expected.begin(), expected.end(), status) != expected.end()) return {};
  return {down_reason::http_status, std::to_string(status)};
}

std::optional<response_verdict> judge_io_error(const char* what, const boost::system::error_code& ec) {
  if (ec == http::error::body_limit || ec == http::error::header_limit ||
      ec == http::error::buffer_overflow)
    return response_verdict{down_reason::response_too_large,
                            "response over " + std::to_string(max_response_body / 1024) + " KiB"};
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated)
    return response_verdict{down_reason::protocol_error,
                            std::string("connection closed before the ") + what + " was complete"};
  if (ec.category() == http::make_error_code(http::error::bad_version).category())
    return response_verdict{down_reason::protocol_error, std::string(what) + ": " + ec.message()};
  return std::nullopt;
}

response_verdict check_response(std::string_view bytes, std::span<const unsigned> expected) {
  response_parser parser;
  limit_response(parser);
  boost::system::error_code ec;
  while (!parser.is_done()) {
    const std::size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(used);
    if (ec == http::error::need_more) ec = {};
    if (ec || parser.is_done()) break;
    if (used > 0) continue;
    // It needs more than the server sent: the connection closed here (as http::read sees it).
    if (parser.got_some()) parser.put_eof(ec);
    else ec = http::error::end_of_stream;
    break;
  }
  if (ec) return *judge_io_error("response", ec);
  return judge_status(parser.get().result_int(), expected);
}

}  // namespace cplb::health
