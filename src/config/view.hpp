#pragma once
#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "reader.hpp"
#include "scalars.hpp"

// Internal to the config module: typed, checked access to YAML maps, lists and scalars.
namespace cplb::config::detail {

/// "a list", "a map", "'the text'" or "nothing": what a node is, for type errors.
std::string kind_of(const YAML::Node& node);

/// Reads the scalar `node` at `path` with `rule` into `out`. Reports a problem (at `null_at` when
/// the node has no value) and leaves `out` alone when it does not fit; true when it did.
template <typename T, typename U>
bool read_scalar(reader& r, const YAML::Node& node, const YAML::Mark& null_at,
                 const std::string& path, const scalar_rule<T>& rule, U& out) {
  if (node.IsNull()) {
    r.report(null_at, path, "has no value (expected " + rule.what + ")");
    return false;
  }
  if (!node.IsScalar()) {
    r.report(node.Mark(), path, "expected " + rule.what + ", found " + kind_of(node));
    return false;
  }
  std::string why;
  auto value = rule.parse(node.Scalar(), why);
  if (!value) {
    r.report(node.Mark(), path, why);
    return false;
  }
  out = static_cast<U>(*value);
  r.locate(path, node.Mark());
  return true;
}

/// A YAML map at a key path, checked on construction: it must be a map (or empty), its keys
/// plain text, known and unique. Every problem goes to the reader.
class map_view {
 public:
  /// Checks `node`; `at` is where to report problems about the map as a whole.
  map_view(reader& r, const YAML::Node& node, const YAML::Mark& at, std::string path,
           std::vector<std::string_view> keys);

  /// True when the node is a map (an empty value counts as an empty map).
  bool ok() const { return ok_; }
  /// The key path of `key` in this map.
  std::string path_of(std::string_view key) const;
  /// True when `key` is present.
  bool has(std::string_view key) const { return find(key) != nullptr; }
  /// The value of `key`, or nullptr when absent.
  const YAML::Node* find(std::string_view key) const;
  /// Where to report a problem with the value of `key` (the key itself when the value is empty).
  YAML::Mark mark_of(std::string_view key) const;
  /// True when `key` is present; reports it missing otherwise.
  bool require(std::string_view key);
  /// The reader problems go to.
  reader& problems() const { return r_; }

  /// Reads the scalar at `key` into `out`. When absent, `out` keeps its default (and counts as
  /// written at the map); true only when present and valid.
  template <typename T, typename U>
  bool read(std::string_view key, const scalar_rule<T>& rule, U& out) {
    const YAML::Node* node = find(key);
    if (!node) {
      r_.locate(path_of(key), mark_);
      return false;
    }
    return read_scalar(r_, *node, mark_of(key), path_of(key), rule, out);
  }

 private:
  struct entry {
    std::string key;
    YAML::Mark key_mark;
    YAML::Node value;
  };
  reader& r_;
  std::string path_;
  YAML::Mark mark_;
  bool ok_ = false;
  std::vector<entry> entries_;
};

/// Reports a list entry that has no value (a bare `-`); true when it has one.
bool has_value(reader& r, const YAML::Node& item, const YAML::Mark& at, const std::string& path);

/// Calls `each(item, item_path, null_at)` for every item of the list at `key` of `map` (none when
/// absent or empty); reports a value that is not a list. True when the key is absent or a list.
bool for_each_item(
    map_view& map, std::string_view key,
    const std::function<void(const YAML::Node&, const std::string&, const YAML::Mark&)>& each);

/// Reads the list of scalars at `key` of `map` with `rule` into `out` (unchanged when absent).
/// An item that does not fit is reported and kept as a default value, so indexes match paths.
template <typename T, typename U>
void read_list(map_view& map, std::string_view key, const scalar_rule<T>& rule,
               std::vector<U>& out) {
  if (!map.has(key)) return;
  std::vector<U> items;
  bool ok = for_each_item(
      map, key, [&](const YAML::Node& item, const std::string& path, const YAML::Mark& at) {
        read_scalar(map.problems(), item, at, path, rule, items.emplace_back());
      });
  if (ok) out = std::move(items);
}

}  // namespace cplb::config::detail
