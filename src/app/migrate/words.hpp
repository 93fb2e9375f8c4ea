#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Splitting a config line into words, as HAProxy and keepalived both write them.
namespace cplb::app::migrate {

/// How a format writes its lines.
struct word_rules {
  std::string_view comment_starts;  ///< characters that start a comment outside quotes
  bool single_quotes;               ///< '...' quotes literally (HAProxy)
  bool backslash_escapes;           ///< `\ `, `\#`, `\"`, `\n` ... (HAProxy)
  bool braces_are_words;            ///< `{` and `}` are words of their own (keepalived)
};

/// The lines of `text`, without their newlines (a trailing newline ends an empty last line).
std::vector<std::string_view> split_lines(std::string_view text);

/// The words of `line`; nullopt with `why` set on an unterminated quote or a `${VARIABLE}`,
/// which neither tool would read as its value here: the file is a template to fill in first.
std::optional<std::vector<std::string>> split_words(std::string_view line, const word_rules& rules,
                                                    std::string& why);

/// Whether `s` is not empty and all printable ASCII without spaces (a path, a host name).
bool printable_without_spaces(std::string_view s);

/// The words joined by single spaces.
std::string join_words(const std::vector<std::string>& words, std::size_t first = 0);

}  // namespace cplb::app::migrate
