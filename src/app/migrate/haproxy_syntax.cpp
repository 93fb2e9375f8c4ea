#include "haproxy_syntax.hpp"

#include <algorithm>
#include <array>

#include "words.hpp"

namespace cplb::app::migrate::haproxy {
namespace {

constexpr word_rules haproxy_words{"#", true, true, false};

constexpr std::array section_keywords{
    "global", "defaults",  "frontend",  "listen",  "backend",     "userlist",
    "peers",  "resolvers", "mailers",   "program", "http-errors", "ring",
    "cache",  "fcgi-app",  "crt-store", "traces",  "log-forward"};

bool is_section_keyword(const std::string& word) {
  return std::find(section_keywords.begin(), section_keywords.end(), word) !=
         section_keywords.end();
}

/// The index of the defaults section a new proxy takes; sets `why` when `from NAME` names none.
std::optional<std::size_t> defaults_for(const document& doc, const directive& header,
                                        std::string& why) {
  const auto& w = header.words;
  const auto from = std::find(w.begin(), w.end(), "from");
  for (std::size_t i = doc.sections.size(); i-- > 0;) {
    const section& s = doc.sections[i];
    if (s.kind == "defaults" && (from == w.end() || (from + 1 != w.end() && s.name == *(from + 1))))
      return i;
  }
  if (from != w.end())
    why = "no defaults section named '" + (from + 1 == w.end() ? "" : *(from + 1)) +
          "' before this line";
  return std::nullopt;
}

}  // namespace

std::string directive::text() const { return join_words(words); }

std::string directive::after(std::string_view key) const {
  for (std::size_t i = 2; i + 1 < words.size(); ++i)
    if (words[i] == key) return words[i + 1];
  return "";
}

bool directive::has(std::string_view word) const {
  return words.size() > 2 && std::find(words.begin() + 2, words.end(), word) != words.end();
}

std::variant<document, error> parse(const source_file& file) {
  document doc;
  const std::string label = file_label(file.path);
  const auto lines = split_lines(file.text);
  for (int line = 1; line <= static_cast<int>(lines.size()); ++line) {
    const std::string_view text = lines[static_cast<std::size_t>(line - 1)];

    std::string why;
    auto words = split_words(text, haproxy_words, why);
    if (!words) return error{file.path, line, why};
    if (words->empty()) continue;
    directive d{std::move(*words), {label, line}};
    const std::string& keyword = d.keyword();

    if (is_section_keyword(keyword)) {
      section s{keyword, d.sub(), d, {}, std::nullopt};
      if (s.is_proxy() && s.name.empty()) return error{file.path, line, keyword + " needs a name"};
      if (s.is_proxy()) {
        s.defaults = defaults_for(doc, d, why);
        if (!why.empty()) return error{file.path, line, why};
      }
      doc.sections.push_back(std::move(s));
      continue;
    }
    if (doc.sections.empty())
      return error{file.path, line, "'" + keyword + "' is outside any section"};
    if (keyword == "server" && d.words.size() < 3)
      return error{file.path, line,
                   d.words.size() < 2 ? "server needs a name and an address"
                                      : "server " + d.words[1] + " has no address"};
    if (keyword == "bind" && d.words.size() < 2)
      return error{file.path, line, "bind has no address"};
    doc.sections.back().lines.push_back(std::move(d));
  }
  return doc;
}

}  // namespace cplb::app::migrate::haproxy
