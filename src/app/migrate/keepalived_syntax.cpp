#include "keepalived_syntax.hpp"

#include "words.hpp"

namespace cplb::app::migrate::keepalived {
namespace {

constexpr word_rules keepalived_words{"!#", false, false, true};

}  // namespace

std::string node::text() const { return join_words(words); }

std::variant<std::vector<node>, error> parse(const source_file& file) {
  std::vector<node> top;
  std::vector<node*> open;  // the blocks around the current line, innermost last
  // A `{` alone on its line opens the block of the line before it.
  bool last_can_open = false;
  auto children = [&]() -> std::vector<node>& {
    return open.empty() ? top : open.back()->children;
  };
  const std::string label = file_label(file.path);
  const auto lines = split_lines(file.text);
  for (int line = 1; line <= static_cast<int>(lines.size()); ++line) {
    const std::string_view text = lines[static_cast<std::size_t>(line - 1)];

    std::string why;
    const auto words = split_words(text, keepalived_words, why);
    if (!words) return error{file.path, line, why};
    std::vector<std::string> pending;
    auto flush = [&] {
      if (pending.empty()) return;
      children().push_back(node{std::move(pending), {label, line}, false, {}});
      pending.clear();
      last_can_open = true;
    };
    for (const std::string& word : *words) {
      if (word == "{") {
        if (pending.empty() && !(last_can_open && !children().empty()))
          return error{file.path, line, "'{' opens no block: no keyword before it"};
        flush();
        node& opened = children().back();
        opened.is_block = true;
        open.push_back(&opened);
        last_can_open = false;
      } else if (word == "}") {
        flush();
        if (open.empty()) return error{file.path, line, "'}' closes no block"};
        open.pop_back();
        last_can_open = false;
      } else {
        pending.push_back(word);
      }
    }
    flush();
  }
  if (!open.empty()) {
    const node& unclosed = *open.back();
    return error{file.path, unclosed.at.line, "the '{' of " + unclosed.text() + " is never closed"};
  }
  return top;
}

}  // namespace cplb::app::migrate::keepalived
