#include "watch_registry.hpp"

#include <algorithm>

namespace cplb::fake_apiserver {

void watch_registry::add(std::weak_ptr<watch_control> watch) {
  std::erase_if(watches_, [](const std::weak_ptr<watch_control>& w) { return w.expired(); });
  watches_.push_back(std::move(watch));
}

void watch_registry::end_all() {
  auto watches = std::move(watches_);
  watches_.clear();
  for (const auto& w : watches)
    if (const auto watch = w.lock()) watch->end();
}

}  // namespace cplb::fake_apiserver
