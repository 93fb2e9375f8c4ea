#pragma once
#include <atomic>
#include <cstddef>
#include <memory>

namespace cplb {

/// One `T` per worker thread, each on its own cache line (T is declared `alignas(64)`), so that
/// workers count without sharing a line. Only worker `i` writes slot `i` (see add_owned); any
/// thread may read and sum the slots.
template <typename T>
class per_worker {
 public:
  explicit per_worker(unsigned workers) : slots_(std::make_unique<T[]>(workers)), count_(workers) {}

  /// The slot owned by worker `index`.
  T& operator[](unsigned index) { return slots_[index]; }
  const T& operator[](unsigned index) const { return slots_[index]; }
  /// Number of slots.
  unsigned size() const { return count_; }

  /// Calls `add(total, slot)` for every slot and returns the total.
  template <typename Total, typename Add>
  Total sum(Add add) const {
    Total total{};
    for (unsigned i = 0; i < count_; ++i) add(total, slots_[i]);
    return total;
  }

 private:
  std::unique_ptr<T[]> slots_;
  unsigned count_;
};

/// Adds `n` to a counter that only the calling thread writes (a worker's own slot): a relaxed
/// load and store, no read-modify-write; readers on other threads see whole values.
template <typename T, typename N>
inline void add_owned(std::atomic<T>& counter, N n) {
  counter.store(counter.load(std::memory_order_relaxed) + static_cast<T>(n), std::memory_order_relaxed);
}

}  // namespace cplb
