#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cplb/app/migrate.hpp"
#include "origin.hpp"

// HAProxy's configuration syntax: sections of lines of words. What the words mean is for
// haproxy_mapping.
namespace cplb::app::migrate::haproxy {

/// One line: its words, with quotes and escapes resolved and the comment cut off.
struct directive {
  std::vector<std::string> words;
  origin at;

  const std::string& keyword() const { return words.front(); }
  /// The word after the keyword (`timeout connect` -> `connect`), or empty.
  std::string sub() const { return words.size() > 1 ? words[1] : ""; }
  /// The word after `key` among the words after the second (`http-check connect port 6443`),
  /// or empty.
  std::string after(std::string_view key) const;
  /// Whether `word` is among the words after the second (`http-check connect ssl`).
  bool has(std::string_view word) const;
  /// The words joined by spaces, as messages quote the line.
  std::string text() const;
};

/// A section and its lines: `frontend apiserver` and what follows up to the next section.
struct section {
  std::string kind;  ///< global, defaults, frontend, listen, backend, or another section keyword
  std::string name;  ///< empty for global and an unnamed defaults
  directive header;
  std::vector<directive> lines;
  /// For proxies: the index of the defaults section they take (the last one before them, or
  /// `from NAME`); none when there is no defaults section.
  std::optional<std::size_t> defaults;

  bool is_proxy() const { return kind == "frontend" || kind == "listen" || kind == "backend"; }
};

struct document {
  std::vector<section> sections;
};

/// Parses `file` (its comments cite `origin.file`). Errors name the line: an unterminated quote,
/// an unexpanded `${VARIABLE}`, a line outside any section, a proxy without a name, a server or
/// bind line without an address.
std::variant<document, error> parse(const source_file& file);

}  // namespace cplb::app::migrate::haproxy
