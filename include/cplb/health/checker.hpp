#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cplb/backend/backend.hpp"
#include "cplb/backend/server.hpp"
#include "cplb/health/handed_health.hpp"
#include "cplb/health/probe_result.hpp"

namespace boost::asio {
class io_context;
}

namespace cplb::health {

struct probe_spec;

/// What the checker tells the rest of the daemon. Callbacks run on the control thread; either may
/// be empty.
struct checker_observer {
  /// A server changed state; the server already holds the new state and reason, and the
  /// transition is logged.
  std::function<void(const backend::backend&, const backend::server_ptr&, backend::server_state from,
                     backend::server_state to)>
      on_transition;
  /// A probe finished (after on_transition when it caused one).
  std::function<void(const backend::backend&, backend::server&, const probe_result&)> on_probe;
};

/// The checks of a backend set, made by checker::prepare: each backend's probe spec with its TLS
/// context and bearer token, read from disk. Nothing runs until the checker commits it.
class check_plan {
 public:
  check_plan() = default;

 private:
  friend class checker;
  std::shared_ptr<const backend::backend_set> set_;
  std::vector<std::shared_ptr<const probe_spec>> specs_;  ///< one per backend, in set order
};

/// Health checks every server of the committed backend set on the control thread's io_context:
/// one probe at a time per server, the first at once, the next a jittered interval (±10%) after
/// the previous one ended. Writes each server's state, reason and reachability.
class checker {
 public:
  /// A checker with nothing to check yet.
  checker(boost::asio::io_context& io, checker_observer observer);
  /// Stops every probe.
  ~checker();
  checker(const checker&) = delete;
  checker& operator=(const checker&) = delete;

  /// Reads what checking `set` needs: bearer token files, CAs, certificates and keys, each into a
  /// new probe spec. Touches nothing live. False, with one problem per backend appended to
  /// `problems`, when a file cannot be loaded.
  static bool prepare(std::shared_ptr<const backend::backend_set> set, check_plan& out,
                      std::vector<std::string>& problems);

  /// Checks the servers of the plan's set: new servers are probed at once; servers carried over
  /// (the same server object) keep their state, fall/rise counts and schedule, and use their
  /// backend's new settings from the next probe; servers no longer in the set stop (their probe
  /// in flight is cancelled).
  void commit(check_plan plan) noexcept;

  /// Passive detection: a data-path connect to `server` failed. It counts as one failed check
  /// (toward `fall`; a refusal takes the server down at once) and marks the server unreachable.
  /// `detail` says how it failed.
  void report_connect_failure(const backend::server_ptr& server,
                              backend::down_reason reason = backend::down_reason::connect_failed,
                              const std::string& detail = "connect failed");

  /// Binary upgrade: every checked server's health, for the next process.
  std::vector<handed_health> hand_over() const;
  /// Before the first commit (the next process): servers of the same backend, name and address
  /// resume from `states` instead of `unchecked`; each is still probed at once.
  void inherit(std::vector<handed_health> states);

  /// Cancels every probe and timer, so io_context::run returns once nothing else is pending.
  void stop();

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cplb::health
