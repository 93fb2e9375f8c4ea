#include "liveness.hpp"

#include <chrono>
#include <string>

#include "cplb/core/log.hpp"

namespace cplb::app {

namespace {

constexpr std::chrono::seconds ping_interval{1};
/// A worker turns in microseconds, or milliseconds under load: this long is a stuck loop (and
/// a kubelet probing every 10 s restarts cplb after its failureThreshold of such answers).
constexpr duration stall_limit = std::chrono::seconds(5);

}  // namespace

liveness::liveness(boost::asio::io_context& io, proxy::proxy& proxy) : proxy_(proxy), timer_(io) {}

void liveness::start() { tick(); }

void liveness::stop() {
  // A tick whose wait had already completed still runs after cancel(): without the flag it would
  // re-arm, and the control thread, waiting on it, would never return.
  stopped_ = true;
  timer_.cancel();
}

admin::health_verdict liveness::verdict() const {
  const auto stalled = proxy_.stalled_workers(stall_limit);
  if (stalled.empty()) return {true, ""};
  std::string reason;
  for (const auto& w : stalled) {
    if (!reason.empty()) reason += "; ";
    reason += "worker " + std::to_string(w.index) + " has not run posted work for " +
              format_duration(w.waited);
  }
  return {false, reason};
}

void liveness::tick() {
  if (stopped_) return;
  note(proxy_.stalled_workers(stall_limit));
  proxy_.ping_workers();
  timer_.expires_after(ping_interval);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void liveness::note(const std::vector<proxy::stalled_worker>& stalled) {
  std::set<unsigned> now;
  for (const auto& w : stalled) {
    now.insert(w.index);
    if (!stuck_.contains(w.index))
      log::error("worker stuck: its event loop has not turned",
                 {{"worker", w.index}, {"for", format_duration(w.waited)}});
  }
  for (const unsigned index : stuck_)
    if (!now.contains(index)) log::info("worker turns again", {{"worker", index}});
  stuck_ = std::move(now);
}

}  // namespace cplb::app
