#include "words.hpp"

#include <algorithm>
#include <cctype>

namespace cplb::app::migrate {
namespace {

char unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return c;
  }
}

std::string placeholder_at(std::string_view line, std::size_t i) {
  const auto end = line.find('}', i);
  const std::string name(line.substr(i, end == std::string_view::npos ? end : end - i + 1));
  return "'" + name + "' is a placeholder: cplb migrate expands no variables; write its value";
}

}  // namespace

std::optional<std::vector<std::string>> split_words(std::string_view line, const word_rules& rules,
                                                    std::string& why) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  auto finish_word = [&] {
    if (in_word) words.push_back(std::move(word));
    word.clear();
    in_word = false;
  };
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    const bool placeholder = c == '$' && i + 1 < line.size() && line[i + 1] == '{';
    if (quote == '\'') {
      if (c == '\'')
        quote = 0;
      else
        word += c;
      continue;
    }
    if (rules.backslash_escapes && c == '\\' && i + 1 < line.size()) {
      word += unescape(line[++i]);
      in_word = true;
      continue;
    }
    if (placeholder) {
      why = placeholder_at(line, i);
      return std::nullopt;
    }
    if (quote == '"') {
      if (c == '"')
        quote = 0;
      else
        word += c;
      continue;
    }
    if (c == '"' || (c == '\'' && rules.single_quotes)) {
      quote = c;
      in_word = true;
    } else if (rules.comment_starts.find(c) != std::string_view::npos) {
      break;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      finish_word();
    } else if (rules.braces_are_words && (c == '{' || c == '}')) {
      finish_word();
      words.emplace_back(1, c);
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote) {
    why = std::string("unterminated ") + (quote == '"' ? "\"" : "'") + " quote";
    return std::nullopt;
  }
  finish_word();
  return words;
}

bool printable_without_spaces(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

std::string join_words(const std::vector<std::string>& words, std::size_t first) {
  std::string out;
  for (std::size_t i = first; i < words.size(); ++i) out += (out.empty() ? "" : " ") + words[i];
  return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace cplb::app::migrate
