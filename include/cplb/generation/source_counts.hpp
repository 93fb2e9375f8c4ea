#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace cplb::generation {

/// Sessions held per client address, for `max_connections_per_source`. Any worker may call it:
/// one short lock per accepted connection and per session end, on frontends with a cap only.
/// Addresses are keyed by a 64-bit hash of the IP (socket_address::ip_hash).
class source_counts {
 public:
  /// Counts one more session of `source` unless it holds `cap` already; false then.
  bool try_add(std::uint64_t source, std::size_t cap) {
    const std::lock_guard lock(mutex_);
    auto& n = counts_[source];
    if (n >= cap) {
      if (n == 0) counts_.erase(source);
      return false;
    }
    ++n;
    return true;
  }

  /// Counts one more session of `source` whatever the cap (one handed over at an upgrade).
  void add(std::uint64_t source) {
    const std::lock_guard lock(mutex_);
    ++counts_[source];
  }

  /// A session of `source` counted by try_add or add ended.
  void remove(std::uint64_t source) {
    const std::lock_guard lock(mutex_);
    const auto it = counts_.find(source);
    if (it != counts_.end() && --it->second == 0) counts_.erase(it);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::size_t> counts_;
};

}  // namespace cplb::generation
