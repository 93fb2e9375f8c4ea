#pragma once
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cplb/backend/server.hpp"

// What a probe makes of the HTTP response it reads, apart from the reading: the parser's caps,
// the status judgement and the verdicts on parse errors. Pure, so it is tested and fuzzed on bytes.
namespace cplb::health {

/// The parser a probe reads a response with.
using response_parser = boost::beast::http::response_parser<boost::beast::http::string_body>;

/// Caps `parser` at max_response_header and max_response_body.
void limit_response(response_parser& parser);

/// A probe's verdict on an HTTP exchange: passed, or why not.
struct response_verdict {
  backend::down_reason reason = backend::down_reason::none;  ///< none: passed
  std::string detail;  ///< the status for http_status, else what went wrong
  bool passed() const { return reason == backend::down_reason::none; }
};

/// The verdict on a whole response with `status`: passed when it is one of `expected`, else
/// http_status (the server answers, but not as a ready one does).
response_verdict judge_status(unsigned status, std::span<const unsigned> expected);

/// The verdict on a read or write of `what` (`request`, `response`) that ended with `ec`, when ec
/// says the response was too large, cut short or not HTTP; nullopt for other errors (TLS, socket).
std::optional<response_verdict> judge_io_error(const char* what, const boost::system::error_code& ec);

/// The verdict on `bytes`, all a server sent before it closed, parsed as a probe parses it.
response_verdict check_response(std::string_view bytes, std::span<const unsigned> expected);

}  // namespace cplb::health
