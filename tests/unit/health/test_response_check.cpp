#include <catch2/catch.hpp>
#include <array>
#include <string>
#include <vector>

#include "cplb/health/probe_spec.hpp"
#include "cplb/health/response_check.hpp"

using cplb::backend::down_reason;
using cplb::health::check_response;
using cplb::health::max_response_body;

namespace {

constexpr std::array<unsigned, 1> ok_only{200};

struct response_case {
  const char* what;
  std::string bytes;  ///< all the server sent before closing
  down_reason reason;
  const char* detail;
};

}  // namespace

TEST_CASE("check_response judges the bytes a server answered with as a probe does") {
  const std::string big(max_response_body + 1, 'x');
  const std::vector<response_case> cases{
      {"200 with a length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", down_reason::none, ""},
      {"200 chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
       down_reason::none, ""},
      {"200 ended by the close", "HTTP/1.1 200 OK\r\n\r\nok", down_reason::none, ""},
      {"500 from an apiserver shutting down", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
       down_reason::http_status, "500"},
      {"a body over the cap", "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) +
       "\r\n\r\n" + big, down_reason::response_too_large, "response over 64 KiB"},
      {"a body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", down_reason::protocol_error,
       "connection closed before the response was complete"},
      {"nothing", "", down_reason::protocol_error, "connection closed before the response was complete"},
      {"not HTTP", "SSH-2.0-OpenSSH_9.2p1\r\n\r\n", down_reason::protocol_error, "response: bad version"},
  };
  for (const auto& c : cases) {
    SECTION(c.what) {
      const auto v = check_response(c.bytes, ok_only);
      CHECK(v.reason == c.reason);
      CHECK(v.detail == c.detail);
    }
  }
}
