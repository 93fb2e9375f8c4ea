#pragma once
#include <string>
#include <string_view>

namespace cplb::fake_apiserver {

/// `text` as the inside of a JSON string.
std::string json_escape(std::string_view text);

}  // namespace cplb::fake_apiserver
