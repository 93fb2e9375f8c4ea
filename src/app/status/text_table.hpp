#pragma once
#include <string>
#include <vector>

namespace cplb::app::status {

/// A cell: its text and the ANSI colour code it is shown in (empty: none).
struct cell {
  std::string text;
  std::string colour;
};

/// Columns aligned by the width of their text, so colour escapes do not shift them.
class text_table {
 public:
  /// The table starts with `headings`, written in capitals by convention.
  explicit text_table(std::vector<std::string> headings);
  void add(std::vector<cell> row);
  /// The lines, each indented by `indent` spaces; the last column is not padded.
  std::vector<std::string> lines(std::size_t indent, bool colour) const;

 private:
  std::vector<std::vector<cell>> rows_;
};

}  // namespace cplb::app::status
