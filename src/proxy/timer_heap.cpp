#include "timer_heap.hpp"

#include <utility>

namespace cplb::proxy {

void timer_heap::schedule(heap_timer& t, heap_timer::time_point at) {
  if (!t.armed()) {
    t.at_ = at;
    heap_.push_back(&t);
    t.index_ = heap_.size() - 1;
    sift_up(t.index_);
    return;
  }
  const bool earlier = at < t.at_;
  t.at_ = at;
  if (earlier) sift_up(t.index_);
  else sift_down(t.index_);
}

void timer_heap::cancel(heap_timer& t) {
  if (t.armed()) remove_at(t.index_);
}

heap_timer* timer_heap::pop_due(heap_timer::time_point now) {
  if (heap_.empty() || heap_.front()->at_ > now) return nullptr;
  heap_timer* t = heap_.front();
  remove_at(0);
  return t;
}

void timer_heap::place(std::size_t index, heap_timer* t) {
  heap_[index] = t;
  t->index_ = index;
}

void timer_heap::sift_up(std::size_t index) {
  heap_timer* t = heap_[index];
  while (index > 0) {
    const std::size_t parent = (index - 1) / 2;
    if (!(t->at_ < heap_[parent]->at_)) break;
    place(index, heap_[parent]);
    index = parent;
  }
  place(index, t);
}

void timer_heap::sift_down(std::size_t index) {
  heap_timer* t = heap_[index];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * index + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->at_ < heap_[child]->at_) ++child;
    if (!(heap_[child]->at_ < t->at_)) break;
    place(index, heap_[child]);
    index = child;
  }
  place(index, t);
}

void timer_heap::remove_at(std::size_t index) {
  heap_timer* removed = heap_[index];
  heap_timer* last = heap_.back();
  heap_.pop_back();
  removed->index_ = heap_timer::none;
  if (last == removed) return;
  place(index, last);
  // The moved entry may belong above or below its new place.
  sift_up(index);
  sift_down(last->index_);
}

}  // namespace cplb::proxy
