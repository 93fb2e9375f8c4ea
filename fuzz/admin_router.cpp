// The admin server's request handling without the socket: bytes through the request parser the
// connection uses (same header limit), then route(). The handlers answer canned text.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "router.hpp"

namespace {

namespace http = boost::beast::http;
using namespace cplb::admin;

const handlers canned{
    [] { return std::string("cplb_up 1\n"); },
    [] { return health_verdict{false, "no server up"}; },
    [] { return health_verdict{true, ""}; },
    [] { return std::string("{}"); },
};

void require(bool ok, const char* what, std::string_view target) {
  if (ok) return;
  std::fprintf(stderr, "admin_router: %s for target \"%.*s\"\n", what, static_cast<int>(target.size()),
               target.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits{}.header_limit));
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;  // 400, 431, or the connection waits for more

  const auto& req = parser.get();
  const std::string_view method(req.method_string().data(), req.method_string().size());
  const std::string_view target(req.target().data(), req.target().size());
  const reply r = route(method, target, canned);
  const std::string_view path = target.substr(0, target.find('?'));
  const bool known = path == "/metrics" || path == "/healthz" || path == "/livez" || path == "/status";
  require(known || r.status == 404, "an unknown path was not 404", target);
  require(r.status != 405 || r.allow == "GET, HEAD", "a 405 without Allow", target);
  require(r.status == 405 || r.allow.empty(), "Allow outside a 405", target);
  require(!r.body.empty() && !r.content_type.empty(), "an empty reply", target);
  return 0;
}
