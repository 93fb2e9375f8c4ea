// A health probe's verdict on the bytes a server answered with (check_response: the probe's parser
// and judgement, without the socket). The verdict is one a response can give, and a pass has an
// expected status.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "cplb/health/response_check.hpp"

namespace {

using cplb::backend::down_reason;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "health_response: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static constexpr std::array<unsigned, 2> expected{200, 204};
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto v = cplb::health::check_response(bytes, expected);
  require(v.reason == down_reason::none || v.reason == down_reason::http_status ||
              v.reason == down_reason::response_too_large || v.reason == down_reason::protocol_error,
          "a verdict no response can give");
  require(v.passed() == v.detail.empty(), "a failure without a detail, or a pass with one");
  if (v.passed()) require(bytes.starts_with("HTTP/1."), "passed without a status line");
  return 0;
}
