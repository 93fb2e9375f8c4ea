#include "view.hpp"

#include <algorithm>
#include <numeric>

namespace cplb::config::detail {
namespace {

/// The edit distance between two short keys, to suggest the key a typo meant.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknown_key_message(const std::string& key, const std::vector<std::string_view>& keys) {
  if (key == "<<") return "merge keys (<<) are not supported; write the values out";
  std::string message = "unknown key '" + key + "'";
  std::string_view closest;
  std::size_t best = key.size() / 3 + 1;  // a suggestion only for a near miss
  for (auto k : keys) {
    std::size_t d = edit_distance(key, k);
    if (d <= best) {
      best = d;
      closest = k;
    }
  }
  if (!closest.empty()) message += ", did you mean '" + std::string(closest) + "'?";
  std::string valid;
  for (auto k : keys) valid += (valid.empty() ? "" : ", ") + std::string(k);
  return message + " (valid: " + valid + ")";
}

}  // namespace

std::string kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "nothing";
  }
}

map_view::map_view(reader& r, const YAML::Node& node, const YAML::Mark& at, std::string path,
                   std::vector<std::string_view> keys)
    : r_(r), path_(std::move(path)), mark_(node.IsMap() ? node.Mark() : at) {
  if (node.IsNull()) {
    ok_ = true;
    r_.locate(path_, mark_);
    return;
  }
  if (!node.IsMap()) {
    std::string valid;
    for (auto k : keys) valid += (valid.empty() ? "" : ", ") + std::string(k);
    r_.report(node.Mark(), path_,
              "expected a map (with keys " + valid + "), found " + kind_of(node));
    return;
  }
  ok_ = true;
  r_.locate(path_, mark_);
  for (const auto& kv : node) {
    const YAML::Node& k = kv.first;
    if (!k.IsScalar()) {
      r_.report(k.Mark(), path_, "a key must be plain text, found " + kind_of(k));
      continue;
    }
    const std::string& key = k.Scalar();
    std::string key_path = path_of(key);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      r_.report(k.Mark(), key_path, unknown_key_message(key, keys));
      continue;
    }
    auto first = std::find_if(entries_.begin(), entries_.end(),
                              [&](const entry& e) { return e.key == key; });
    if (first != entries_.end()) {
      r_.report(k.Mark(), key_path,
                "duplicate key (first at line " + std::to_string(first->key_mark.line + 1) + ")");
      continue;
    }
    entries_.push_back({key, k.Mark(), kv.second});
  }
}

std::string map_view::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const YAML::Node* map_view::find(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.key == key) return &e.value;
  return nullptr;
}

YAML::Mark map_view::mark_of(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.key == key) return e.value.IsNull() ? e.key_mark : e.value.Mark();
  return mark_;
}

bool map_view::require(std::string_view key) {
  if (has(key)) return true;
  if (ok_) r_.report(mark_, path_of(key), "is required");
  return false;
}

bool has_value(reader& r, const YAML::Node& item, const YAML::Mark& at, const std::string& path) {
  if (!item.IsNull()) return true;
  r.report(at, path, "is an empty entry");
  return false;
}

bool for_each_item(
    map_view& map, std::string_view key,
    const std::function<void(const YAML::Node&, const std::string&, const YAML::Mark&)>& each) {
  const YAML::Node* list = map.find(key);
  if (!list || list->IsNull()) return true;
  std::string path = map.path_of(key);
  if (!list->IsSequence()) {
    map.problems().report(list->Mark(), path, "expected a list, found " + kind_of(*list));
    return false;
  }
  map.problems().locate(path, list->Mark());
  std::size_t i = 0;
  for (const auto& item : *list) {
    each(item, path + "[" + std::to_string(i++) + "]",
         item.IsNull() ? map.mark_of(key) : item.Mark());
  }
  return true;
}

}  // namespace cplb::config::detail
