#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cplb/health/jitter.hpp"
#include "cplb/health/threshold_tracker.hpp"

using cplb::backend::server_state;
using cplb::health::outcome;
using cplb::health::threshold_tracker;

namespace {

/// One row: thresholds, outcomes ('p' pass, 'f' fail, 'n' not ready), and the state after each.
struct tracker_case {
  const char* what;
  unsigned rise;
  unsigned fall;
  std::string outcomes;
  std::string states;  ///< 'u' up, 'd' down, 'n' not_ready, '-' unchecked
};

char letter(server_state s) {
  switch (s) {
    case server_state::up: return 'u';
    case server_state::down: return 'd';
    case server_state::not_ready: return 'n';
    case server_state::unchecked: return '-';
  }
  return '?';
}

outcome from_letter(char c) {
  return c == 'p' ? outcome::passed : c == 'n' ? outcome::not_ready : outcome::failed;
}

constexpr outcome pass = outcome::passed;
constexpr outcome fail = outcome::failed;

}  // namespace

TEST_CASE("threshold_tracker follows rise and fall") {
  const std::vector<tracker_case> cases = {
      {"first pass makes it up at once", 3, 3, "p", "u"},
      {"first failure makes it down at once", 3, 3, "f", "d"},
      {"down needs rise passes", 2, 2, "fpp", "ddu"},
      {"down: a failure restarts the rise count", 2, 2, "fpfpp", "ddddu"},
      {"up needs fall failures", 2, 2, "pff", "uud"},
      {"up: a pass restarts the fall count", 2, 2, "pfpff", "uuuud"},
      {"rise 1, fall 1 flips every change", 1, 1, "pfpf", "udud"},
      {"rise 3", 3, 1, "ffppp", "ddddu"},
      {"fall 3", 1, 3, "pfffp", "uuudu"},
      {"counts start over after a transition", 2, 2, "pffpfpp", "uuddddu"},
      {"thresholds of 0 count as 1", 0, 0, "pfp", "udu"},
      {"first not-ready answer: not_ready at once", 2, 2, "n", "n"},
      {"up: not-ready answers count toward fall", 2, 2, "pnn", "uun"},
      {"up: failures of both kinds count together, the last decides", 2, 3, "pnfn", "uuun"},
      {"up: the last failure decides down", 2, 2, "pnf", "uud"},
      {"not_ready: a hard failure is down at once", 2, 2, "nf", "nd"},
      {"down: a not-ready answer is not_ready at once", 2, 2, "fn", "dn"},
      {"not_ready needs rise passes", 2, 2, "npnpp", "nnnnu"},
  };
  for (const auto& c : cases) {
    SECTION(c.what) {
      threshold_tracker tracker(c.rise, c.fall);
      REQUIRE(tracker.state() == server_state::unchecked);
      std::string states;
      char previous = '-';
      for (char o : c.outcomes) {
        const auto changed = tracker.record(from_letter(o));
        const char now = letter(tracker.state());
        // A transition is reported exactly when the state changed, and reports the new state.
        CHECK(changed.has_value() == (now != previous));
        if (changed) CHECK(letter(*changed) == now);
        states += now;
        previous = now;
      }
      CHECK(states == c.states);
    }
  }
}

TEST_CASE("threshold_tracker takes new thresholds without losing its counts") {
  threshold_tracker tracker(5, 5);
  CHECK(tracker.record(fail) == server_state::down);
  CHECK_FALSE(tracker.record(pass));
  CHECK_FALSE(tracker.record(pass));
  tracker.set_thresholds(3, 5);
  CHECK(tracker.record(pass) == server_state::up);  // third pass in a row meets the new rise
  tracker.set_thresholds(3, 1);
  CHECK(tracker.record(fail) == server_state::down);
}

TEST_CASE("threshold_tracker takes an up server down at once on a conclusive failure") {
  threshold_tracker tracker(2, 3);
  REQUIRE(tracker.record(pass) == server_state::up);
  CHECK_FALSE(tracker.record(fail));                       // a probe failure counts toward fall
  CHECK(tracker.record(fail, true) == server_state::down);  // a refusal decides at once
  CHECK_FALSE(tracker.record(fail, true));                  // already down: no new transition
  CHECK_FALSE(tracker.record(pass));
  CHECK(tracker.record(pass) == server_state::up);          // rise still applies
}

TEST_CASE("threshold_tracker says when an outcome disagrees with the state") {
  threshold_tracker tracker(2, 2);
  CHECK_FALSE(tracker.disagrees(pass));  // unchecked: the first outcome decides anyway
  CHECK_FALSE(tracker.disagrees(fail));
  REQUIRE(tracker.record(pass) == server_state::up);
  CHECK_FALSE(tracker.disagrees(pass));
  CHECK(tracker.disagrees(fail));
  CHECK(tracker.disagrees(outcome::not_ready));
  REQUIRE_FALSE(tracker.record(fail));
  REQUIRE(tracker.record(outcome::not_ready) == server_state::not_ready);
  CHECK(tracker.disagrees(pass));
  CHECK_FALSE(tracker.disagrees(outcome::not_ready));
  CHECK_FALSE(tracker.disagrees(fail));  // worse, but still out of service
}

TEST_CASE("jittered spreads the interval by 10% either way") {
  using cplb::duration;
  using cplb::health::jittered;
  CHECK(jittered(duration(2000), 0.0) == duration(1800));
  CHECK(jittered(duration(2000), 0.5) == duration(2000));
  CHECK(jittered(duration(2000), 1.0) == duration(2200));
  CHECK(jittered(duration(0), 0.7) == duration(0));
}
