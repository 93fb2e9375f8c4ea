#pragma once
#include <set>
#include <string>

namespace cplb::app::migrate {

/// `raw` as a cplb name (a letter or digit, then letters, digits, '.', '_' or '-'; at most 63):
/// other characters become '-'; `fallback` when nothing is left.
std::string cplb_name(const std::string& raw, const std::string& fallback);

/// `name`, else `name-2`, `name-3`, ...: the first that `taken` does not hold, which is added.
std::string unique_name(const std::string& name, std::set<std::string>& taken);

}  // namespace cplb::app::migrate
