#pragma once
#include <atomic>

namespace cplb {

/// Adds `n` to a counter that only the calling thread writes (a worker's own slot): a relaxed
/// load and store, no read-modify-write; readers on other threads see whole values.
template <typename T, typename N>
inline void add_owned(std::atomic<T>& counter, N n) {
  counter.store(counter.load(std::memory_order_relaxed) + static_cast<T>(n), std::memory_order_relaxed);
}

}  // namespace cplb
