#pragma once
#include <string_view>

namespace cplb::admin::test {

/// True when `text` is exactly one valid JSON value (RFC 8259), surrounded by whitespace at most.
bool valid_json(std::string_view text);

}  // namespace cplb::admin::test
