#pragma once
#include <concepts>
#include <string>
#include <string_view>

namespace cplb::admin {

/// Writes compact JSON, placing commas and colons itself. Strings are escaped, and bytes that are
/// not valid UTF-8 become U+FFFD, so the output is always valid JSON.
class json_writer {
 public:
  /// `{`
  json_writer& begin_object();
  /// `}`
  json_writer& end_object();
  /// `[`
  json_writer& begin_array();
  /// `]`
  json_writer& end_array();
  /// An object member's name; its value comes next.
  json_writer& key(std::string_view name);
  /// A string value.
  json_writer& string(std::string_view text);
  /// `true` or `false`.
  json_writer& boolean(bool b);
  /// `null`
  json_writer& null();
  /// An integer value.
  template <std::integral T>
  json_writer& number(T n) {
    return raw(std::to_string(n));
  }

  /// The text written.
  std::string take() { return std::move(out_); }

 private:
  json_writer& raw(std::string_view token);
  void separate();

  std::string out_;
  bool need_comma_ = false;
};

/// `text` as a quoted JSON string.
std::string json_quote(std::string_view text);

}  // namespace cplb::admin
