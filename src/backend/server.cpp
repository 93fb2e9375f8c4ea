#include "cplb/backend/server.hpp"

namespace cplb::backend {

const char* to_string(down_reason r) {
  switch (r) {
    case down_reason::none: return "none";
    case down_reason::not_checked: return "not_checked";
    case down_reason::refused: return "refused";
    case down_reason::timeout: return "timeout";
    case down_reason::connect_failed: return "connect_failed";
    case down_reason::tls_handshake: return "tls_handshake";
    case down_reason::http_status: return "http_status";
    case down_reason::response_too_large: return "response_too_large";
    case down_reason::protocol_error: return "protocol_error";
  }
  return "unknown";
}

const char* to_string(server_state s) {
  switch (s) {
    case server_state::unchecked: return "unchecked";
    case server_state::up: return "up";
    case server_state::not_ready: return "not_ready";
    case server_state::down: return "down";
  }
  return "unknown";
}

server::server(const config::server_config& cfg, unsigned worker_count)
    : name_(cfg.name),
      address_(cfg.address),
      host_(cfg.host.empty() ? cfg.address.ip_string() : cfg.host),
      weight_(cfg.weight),
      counters_(worker_count) {}

void server::set_state(server_state s, down_reason r, std::string detail) {
  reason_detail_ = std::move(detail);
  reason_.store(r, std::memory_order_relaxed);
  state_.store(s, std::memory_order_relaxed);
}

counter_totals server::totals() const {
  return counters_.sum<counter_totals>([](counter_totals& t, const worker_counters& c) {
    t.connections += c.connections.load(std::memory_order_relaxed);
    t.connect_failures += c.connect_failures.load(std::memory_order_relaxed);
    t.bytes_sent += c.bytes_sent.load(std::memory_order_relaxed);
    t.bytes_received += c.bytes_received.load(std::memory_order_relaxed);
    t.rebalanced += c.rebalanced.load(std::memory_order_relaxed);
  });
}

}  // namespace cplb::backend
