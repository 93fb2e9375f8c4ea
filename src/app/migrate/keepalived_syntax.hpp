#pragma once
#include <string>
#include <variant>
#include <vector>

#include "cplb/app/migrate.hpp"
#include "origin.hpp"

// keepalived's configuration syntax: lines of words, some opening a `{ ... }` block of lines.
namespace cplb::app::migrate::keepalived {

/// A line, and the lines of its block if it opens one.
struct node {
  std::vector<std::string> words;
  origin at;
  bool is_block = false;
  std::vector<node> children;

  const std::string& keyword() const { return words.front(); }
  /// The word after the keyword, or empty.
  std::string arg() const { return words.size() > 1 ? words[1] : ""; }
  std::string text() const;
};

/// The top-level lines of `file`. Errors name the line: a `{` never closed, a `}` that closes
/// nothing, an unterminated quote, an unexpanded `${VARIABLE}`.
std::variant<std::vector<node>, error> parse(const source_file& file);

}  // namespace cplb::app::migrate::keepalived
