#include "json_writer.hpp"

#include <cstdint>
#include <cstdio>

namespace cplb::admin {

namespace {

/// The length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s) {
  const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) { len = 2; cp = b0 & 0x1Fu; }
  else if (b0 >= 0xE0 && b0 <= 0xEF) { len = 3; cp = b0 & 0x0Fu; }
  else if (b0 >= 0xF0 && b0 <= 0xF4) { len = 4; cp = b0 & 0x07u; }
  else return 0;
  if (s.size() < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    if ((byte(i) & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (byte(i) & 0x3Fu);
  }
  const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
  if (overlong || surrogate || cp > 0x10FFFF) return 0;
  return len;
}

}  // namespace

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  while (!text.empty()) {
    const char c = text.front();
    const std::size_t len = utf8_sequence(text);
    if (len == 0) {
      out += "\\ufffd";
      text.remove_prefix(1);
      continue;
    }
    if (len == 1) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
            out += escaped;
          } else {
            out += c;
          }
      }
    } else {
      out.append(text.substr(0, len));
    }
    text.remove_prefix(len);
  }
  out += '"';
  return out;
}

void json_writer::separate() {
  if (need_comma_) out_ += ',';
  need_comma_ = false;
}

json_writer& json_writer::raw(std::string_view token) {
  separate();
  out_ += token;
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::begin_object() {
  separate();
  out_ += '{';
  return *this;
}

json_writer& json_writer::end_object() {
  out_ += '}';
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::begin_array() {
  separate();
  out_ += '[';
  return *this;
}

json_writer& json_writer::end_array() {
  out_ += ']';
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::key(std::string_view name) {
  separate();
  out_ += json_quote(name);
  out_ += ':';
  return *this;
}

json_writer& json_writer::string(std::string_view text) { return raw(json_quote(text)); }

json_writer& json_writer::boolean(bool b) { return raw(b ? "true" : "false"); }

json_writer& json_writer::null() { return raw("null"); }

}  // namespace cplb::admin
