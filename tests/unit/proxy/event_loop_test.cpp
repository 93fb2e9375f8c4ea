#include <catch2/catch.hpp>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "event_loop.hpp"

using cplb::proxy::event_loop;
using cplb::proxy::loop_target;
using cplb::proxy::loop_timer;
using namespace std::chrono_literals;

namespace {

/// A connected pair of non-blocking stream sockets, closed at the end.
struct socket_pair {
  int fd[2] = {-1, -1};
  socket_pair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) == 0); }
  ~socket_pair() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void send(const char* text) const { REQUIRE(::write(fd[1], text, std::strlen(text)) > 0); }
};

/// Records what the loop tells it, and runs a hook on each call.
struct recorder final : loop_target {
  std::vector<std::string>& log;
  std::string name;
  std::function<void(unsigned, std::uint32_t)> on_event;
  std::function<void()> on_turn;
  std::function<void()> on_due;
  loop_timer timer{*this};

  recorder(std::vector<std::string>& l, std::string n) : log(l), name(std::move(n)) {}
  void on_ready(unsigned tag, std::uint32_t events) override {
    log.push_back(name + " ready " + std::to_string(tag));
    if (on_event) on_event(tag, events);
  }
  void on_resume() override {
    log.push_back(name + " resume");
    if (on_turn) on_turn();
  }
  void on_deadline() override {
    log.push_back(name + " due");
    if (on_due) on_due();
  }
};

/// Stops `loop` after `after`, so that every test ends even if what it waits for never comes.
struct stopper final : loop_target {
  event_loop& loop;
  loop_timer timer{*this};
  stopper(event_loop& l, std::chrono::milliseconds after) : loop(l) { loop.schedule(timer, loop.now() + after); }
  ~stopper() override { loop.cancel(timer); }
  void on_ready(unsigned, std::uint32_t) override {}
  void on_deadline() override { loop.stop(); }
};

}  // namespace

TEST_CASE("work posted from another thread runs on the loop's thread") {
  event_loop loop;
  stopper guard(loop, 5s);
  std::thread::id ran_on;
  std::thread poster([&] {
    loop.post([&] {
      ran_on = std::this_thread::get_id();
      loop.stop();
    });
  });
  loop.run();
  poster.join();
  CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("deadlines fire in order; a cancelled one never fires; a moved one fires when moved to") {
  event_loop loop;
  std::vector<std::string> log;
  recorder a(log, "a"), b(log, "b"), c(log, "c");
  loop.schedule(a.timer, loop.now() + 30ms);
  loop.schedule(b.timer, loop.now() + 10ms);
  loop.schedule(c.timer, loop.now() + 20ms);
  loop.cancel(c.timer);
  loop.schedule(b.timer, loop.now() + 40ms);  // moved later than a
  b.on_due = [&] { loop.stop(); };
  stopper guard(loop, 5s);
  loop.run();
  CHECK(log == std::vector<std::string>{"a due", "b due"});
}

TEST_CASE("readiness is reported once per edge, with the descriptor's tag") {
  event_loop loop;
  std::vector<std::string> log;
  socket_pair pair;
  recorder r(log, "r");
  REQUIRE(loop.watch(pair.fd[0], r, 1));
  std::uint32_t seen = 0;
  r.on_event = [&](unsigned, std::uint32_t events) { seen |= events; };
  // First turn: the fresh socket is writable. Nothing is read, yet no second report follows
  // until new bytes arrive.
  loop.post([&] { pair.send("x"); });
  loop.schedule(r.timer, loop.now() + 50ms);
  r.on_due = [&] { loop.stop(); };
  stopper guard(loop, 5s);
  loop.run();
  CHECK(seen & EPOLLOUT);
  CHECK(seen & EPOLLIN);
  CHECK(log.back() == "r due");
  CHECK(log.size() <= 3);  // writable, then readable (possibly in one report), then the deadline
  for (std::size_t i = 0; i + 1 < log.size(); ++i) CHECK(log[i] == "r ready 1");
}

TEST_CASE("a target that asks for another turn gets it after the events already pending") {
  event_loop loop;
  std::vector<std::string> log;
  socket_pair first, second;
  recorder greedy(log, "greedy"), other(log, "other");
  REQUIRE(loop.watch(first.fd[0], greedy, 0));
  int turns = 0;
  greedy.on_event = [&](unsigned, std::uint32_t) {
    if (turns == 0) {
      ++turns;
      second.send("y");  // another target becomes ready while greedy still has work
      loop.again(greedy);
    }
  };
  greedy.on_turn = [&] { loop.stop(); };
  stopper guard(loop, 5s);
  REQUIRE(loop.watch(second.fd[0], other, 0));
  loop.run();
  // greedy's own readiness, then other's, then greedy's extra turn.
  REQUIRE(log.size() >= 3);
  CHECK(log.front() == "greedy ready 0");
  CHECK(log.back() == "greedy resume");
  CHECK(std::find(log.begin(), log.end(), "other ready 0") != log.end());
}

TEST_CASE("a retired target lives until the turn is over, then is freed") {
  event_loop loop;
  socket_pair legs[2];
  bool freed = false;
  int reports = 0;
  bool freed_at_second_report = true;
  struct owned final : loop_target {
    std::function<void()> on_report;
    bool& freed;
    explicit owned(bool& f) : freed(f) {}
    ~owned() override { freed = true; }
    void on_ready(unsigned, std::uint32_t) override { on_report(); }
  };
  auto* target = new owned(freed);
  // Both fresh sockets are writable, so both show up in the first batch.
  REQUIRE(loop.watch(legs[0].fd[0], *target, 0));
  REQUIRE(loop.watch(legs[1].fd[0], *target, 1));
  target->on_report = [&] {
    if (++reports == 1) {
      for (auto& leg : legs) {  // closing takes them out of the set, as a session does
        ::close(leg.fd[0]);
        leg.fd[0] = -1;
      }
      loop.retire(std::unique_ptr<loop_target>(target));
    } else {
      freed_at_second_report = freed;
    }
  };
  stopper guard(loop, 50ms);
  loop.run();
  CHECK(reports == 2);
  CHECK_FALSE(freed_at_second_report);
  CHECK(freed);
}
