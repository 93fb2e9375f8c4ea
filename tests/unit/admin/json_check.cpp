#include "json_check.hpp"

#include <cctype>

namespace cplb::admin::test {

namespace {

/// A recursive-descent JSON recognizer.
class checker {
 public:
  explicit checker(std::string_view text) : s_(text) {}

  bool document() {
    if (!value()) return false;
    skip_ws();
    return i_ == s_.size();
  }

 private:
  bool value(int depth = 0) {
    if (depth > 64) return false;
    skip_ws();
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': return string();
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number();
    }
  }

  bool object(int depth) {
    ++i_;
    skip_ws();
    if (eat('}')) return true;
    do {
      skip_ws();
      if (i_ >= s_.size() || s_[i_] != '"' || !string()) return false;
      skip_ws();
      if (!eat(':') || !value(depth + 1)) return false;
      skip_ws();
    } while (eat(','));
    return eat('}');
  }

  bool array(int depth) {
    ++i_;
    skip_ws();
    if (eat(']')) return true;
    do {
      if (!value(depth + 1)) return false;
      skip_ws();
    } while (eat(','));
    return eat(']');
  }

  bool string() {
    ++i_;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') continue;
      if (i_ >= s_.size()) return false;
      const char e = s_[i_++];
      if (e == 'u') {
        for (int k = 0; k < 4; ++k)
          if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_++]))) return false;
      } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return false;
      }
    }
    return false;
  }

  bool number() {
    eat('-');
    if (!eat('0') && !digits()) return false;
    if (eat('.') && !digits()) return false;
    if (eat('e') || eat('E')) {
      if (!eat('+')) eat('-');
      if (!digits()) return false;
    }
    return true;
  }

  bool digits() {
    const std::size_t start = i_;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ > start;
  }

  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

bool valid_json(std::string_view text) { return checker(text).document(); }

}  // namespace cplb::admin::test
