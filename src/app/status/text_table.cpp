#include "text_table.hpp"

#include <algorithm>

namespace cplb::app::status {

text_table::text_table(std::vector<std::string> headings) {
  std::vector<cell> row;
  for (auto& h : headings) row.push_back({std::move(h), ""});
  rows_.push_back(std::move(row));
}

void text_table::add(std::vector<cell> row) { rows_.push_back(std::move(row)); }

std::vector<std::string> text_table::lines(std::size_t indent, bool colour) const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].text.size());
  }
  std::vector<std::string> out;
  for (const auto& row : rows_) {
    std::string line(indent, ' ');
    for (std::size_t i = 0; i < row.size(); ++i) {
      const cell& c = row[i];
      line += colour && !c.colour.empty() ? "\x1b[" + c.colour + "m" + c.text + "\x1b[0m" : c.text;
      if (i + 1 < row.size()) line += std::string(widths[i] - c.text.size() + 2, ' ');
    }
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace cplb::app::status
