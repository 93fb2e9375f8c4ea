#include "watch_feed.hpp"

#include <cstdio>

#include "json_text.hpp"

namespace cplb::fake_apiserver {

watch_feed::watch_feed(std::shared_ptr<server_state> state) : state_(std::move(state)) {
  ++state_->counters.watches;
}

watch_feed::~watch_feed() { --state_->counters.watches; }

std::string watch_feed::next_chunk() {
  const std::string event = R"({"type":"BOOKMARK","server":")" + json_escape(state_->name) +
                            R"(","seq":)" + std::to_string(seq_++) + "}\n";
  char size[20];
  std::snprintf(size, sizeof size, "%zx\r\n", event.size());
  return size + event + "\r\n";
}

std::chrono::milliseconds watch_feed::interval() const { return state_->watch_interval; }

server_state& watch_feed::state() const { return *state_; }

}  // namespace cplb::fake_apiserver
