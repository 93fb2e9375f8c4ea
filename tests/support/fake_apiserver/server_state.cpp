#include "server_state.hpp"

namespace cplb::fake_apiserver {

connection_guard::connection_guard(std::shared_ptr<server_state> state) : state_(std::move(state)) {
  ++state_->counters.connections;
  ++state_->counters.active;
}

connection_guard::~connection_guard() {
  if (state_) --state_->counters.active;
}

}  // namespace cplb::fake_apiserver
