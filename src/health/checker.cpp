#include "cplb/health/checker.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>
#include <unordered_map>
#include <vector>

#include "cplb/core/log.hpp"
#include "cplb/health/jitter.hpp"
#include "cplb/health/probe.hpp"
#include "cplb/health/threshold_tracker.hpp"

namespace cplb::health {
namespace {

namespace asio = boost::asio;
using backend::down_reason;
using backend::server_state;

/// The health checking of one server: its tracker, its timer and its probe in flight.
struct slot {
  slot(asio::io_context& io, backend::server_ptr s, const config::health_check_config& hc)
      : server(std::move(s)), tracker(hc.rise, hc.fall), timer(io) {}

  backend::server_ptr server;
  backend::backend_ptr owner;              ///< its backend in the latest applied set
  std::shared_ptr<const probe_spec> spec;  ///< used from the next probe on
  threshold_tracker tracker;
  asio::steady_timer timer;  ///< until the next probe
  std::shared_ptr<probe> in_flight;
  bool stopped = false;  ///< removed, or the checker stopped: touch nothing
};

using slot_ptr = std::shared_ptr<slot>;

}  // namespace

class checker::impl {
 public:
  impl(asio::io_context& io, checker_observer observer)
      : io_(io), observer_(std::move(observer)), random_(std::random_device{}()) {}

  ~impl() { stop(); }

  void commit(const backend::backend_set& set,
              const std::vector<std::shared_ptr<const probe_spec>>& specs) {
    std::unordered_map<const backend::server*, slot_ptr> next;
    std::vector<slot_ptr> added;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const auto& b = set.all()[i];
      const auto& hc = b->config().health_check;
      for (const auto& server : b->servers()) {
        slot_ptr s;
        if (auto it = slots_.find(server.get()); it != slots_.end()) {
          s = it->second;
          slots_.erase(it);
          s->tracker.set_thresholds(hc.rise, hc.fall);
        } else {
          s = std::make_shared<slot>(io_, server, hc);
          resume(*s, b->name());
          added.push_back(s);
        }
        s->owner = b;
        s->spec = specs[i];
        next.emplace(server.get(), std::move(s));
      }
    }
    for (auto& [server, s] : slots_) halt(*s);
    slots_ = std::move(next);
    inherited_.clear();  // only the first commit resumes
    for (const auto& s : added) run_probe(s);
  }

  std::vector<handed_health> hand_over() const {
    std::vector<handed_health> out;
    for (const auto& [server, s] : slots_)
      out.push_back({s->owner->name(), server->name(), server->address().to_string(), server->state(),
                     server->reason(), server->reason_detail(), s->tracker.passes(), s->tracker.failures(),
                     server->reachable()});
    return out;
  }

  void inherit(std::vector<handed_health> states) { inherited_ = std::move(states); }

  void report_connect_failure(const backend::server_ptr& server, down_reason reason,
                              const std::string& detail) {
    const auto it = slots_.find(server.get());
    if (it == slots_.end()) return;
    const slot_ptr s = it->second;
    s->server->set_reachable(false);
    record(*s, outcome::failed, reason, "data path: " + detail, reason == down_reason::refused);
  }

  void stop() {
    for (auto& [server, s] : slots_) halt(*s);
    slots_.clear();
  }

 private:
  /// Gives a new slot the health the previous process knew its server by, if it did.
  void resume(slot& s, const std::string& backend_name) {
    backend::server& server = *s.server;
    for (const auto& h : inherited_) {
      if (h.backend != backend_name || h.server != server.name() || h.address != server.address().to_string())
        continue;
      s.tracker.resume(h.state, h.passes, h.failures);
      server.set_state(h.state, h.reason, h.detail);
      server.set_reachable(h.reachable);
      return;
    }
  }

  /// Stops a slot's timer and probe; their handlers then do nothing.
  static void halt(slot& s) {
    s.stopped = true;
    s.timer.cancel();
    if (s.in_flight) s.in_flight->cancel();
    s.in_flight.reset();
  }

  // Handlers below capture `this`: every slot is halted before the impl goes away, and a halted
  // slot's handlers return before touching it.

  void run_probe(const slot_ptr& s) {
    std::weak_ptr<slot> weak = s;
    s->in_flight = start_probe(io_, s->spec, s->server->address(), s->server->host(),
                               [this, weak](const probe_result& result) {
                                 const slot_ptr locked = weak.lock();
                                 if (locked && !locked->stopped) on_result(locked, result);
                               });
  }

  void on_result(const slot_ptr& s, const probe_result& result) {
    s->in_flight.reset();
    bool confirming = false;
    if (result.local_failure) {
      log::warn("health check could not run", {{"backend", s->owner->name()},
                                               {"server", s->server->name()},
                                               {"error", result.detail}});
    } else {
      confirming = record_result(s, result);
    }
    if (s->stopped) return;  // an observer may have committed a reload or stopped
    // A result that disagrees with the state is confirmed (or refuted) at fast_interval, so
    // rise and fall take a fraction of the interval. The next probe starts only after this one
    // ended, so probes never overlap, whatever the timeout.
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto pause = confirming ? s->spec->fast_interval : s->spec->interval;
    s->timer.expires_after(jittered(pause, unit(random_)));
    s->timer.async_wait([this, s](boost::system::error_code ec) {
      if (!ec && !s->stopped) run_probe(s);
    });
  }

  /// Records a probe's result; true when the server's state does not agree with it yet.
  bool record_result(const slot_ptr& s, const probe_result& result) {
    s->server->set_reachable(result.connected);
    if (!result.passed)
      log::debug("health check failed", {{"backend", s->owner->name()},
                                         {"server", s->server->name()},
                                         {"reason", backend::to_string(result.reason)},
                                         {"detail", result.detail}});
    const outcome o = result.passed                                   ? outcome::passed
                      : result.reason == down_reason::http_status ? outcome::not_ready
                                                                      : outcome::failed;
    record(*s, o, result.reason, result.detail);
    if (observer_.on_probe) observer_.on_probe(*s->owner, *s->server, result);
    return s->tracker.disagrees(o);
  }

  /// Feeds one outcome to the tracker; writes, logs and reports a transition. While out of
  /// service, the server's reason follows the latest failure.
  void record(slot& s, outcome o, down_reason reason, const std::string& detail,
              bool conclusive = false) {
    backend::server& server = *s.server;
    const server_state from = s.tracker.state();
    const auto to = s.tracker.record(o, conclusive);
    if (!to) {
      if (o != outcome::passed && from != server_state::up &&
          (server.reason() != reason || server.reason_detail() != detail))
        server.set_state(from, reason, detail);
      return;
    }
    const std::string& backend_name = s.owner->name();
    if (*to == server_state::up) {
      server.set_state(server_state::up, down_reason::none, {});
      log::info("server up", {{"backend", backend_name}, {"server", server.name()},
                              {"was", backend::to_string(from)}});
    } else {
      server.set_state(*to, reason, detail);
      log::warn(*to == server_state::not_ready ? "server not ready" : "server down",
                {{"backend", backend_name},
                 {"server", server.name()},
                 {"reason", backend::to_string(reason)},
                 {"detail", detail}});
    }
    if (observer_.on_transition) observer_.on_transition(*s.owner, s.server, from, *to);
  }

  asio::io_context& io_;
  checker_observer observer_;
  std::mt19937_64 random_;
  std::unordered_map<const backend::server*, slot_ptr> slots_;
  std::vector<handed_health> inherited_;  ///< until the first commit
};

checker::checker(asio::io_context& io, checker_observer observer)
    : impl_(std::make_unique<impl>(io, std::move(observer))) {}

checker::~checker() = default;

bool checker::prepare(std::shared_ptr<const backend::backend_set> set, check_plan& out,
                      std::vector<std::string>& problems) {
  check_plan plan;
  bool ok = true;
  for (const auto& b : set->all()) {
    try {
      plan.specs_.push_back(make_probe_spec(b->config().health_check));
    } catch (const std::exception& e) {
      problems.push_back("backend " + b->name() + ": health_check: " + e.what());
      ok = false;
    }
  }
  if (!ok) return false;
  plan.set_ = std::move(set);
  out = std::move(plan);
  return true;
}

void checker::commit(check_plan plan) noexcept { impl_->commit(*plan.set_, plan.specs_); }

void checker::report_connect_failure(const backend::server_ptr& server, down_reason reason,
                                     const std::string& detail) {
  impl_->report_connect_failure(server, reason, detail);
}

std::vector<handed_health> checker::hand_over() const { return impl_->hand_over(); }

void checker::inherit(std::vector<handed_health> states) { impl_->inherit(std::move(states)); }

void checker::stop() { impl_->stop(); }

}  // namespace cplb::health
