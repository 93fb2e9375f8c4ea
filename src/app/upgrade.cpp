// Binary upgrade, the old process's side. The steps, their deadlines and what a failure at each
// takes back are in docs/design.md ("Binary upgrade").
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "cplb/core/log.hpp"
#include "daemon.hpp"
#include "upgrade_attempt.hpp"

namespace cplb::app {

namespace {

using std::chrono::milliseconds;

/// The new process loads its config, reads its TLS files and binds new addresses meanwhile.
constexpr milliseconds start_limit{10'000};
/// For a step that needs no work beyond receiving what was sent.
constexpr milliseconds step_limit{5'000};
/// How long the old process lets sessions that cannot move (ending, leaving) finish.
constexpr auto leftover_grace = std::chrono::seconds(3);
/// Sessions per message; each takes up to two of the channel's descriptors per message.
constexpr std::size_t sessions_per_message = upgrade_channel::max_fds / 2;
/// A message grows past this (backlogs) before it goes, whatever the count.
constexpr std::size_t bytes_per_message = 4u << 20;

}  // namespace

void daemon::begin_upgrade() {
  if (upgrade_) return log::warn("upgrade refused: one is already in progress");
  if (stopping_) return log::warn("upgrade refused: cplb is stopping");
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    metrics_.on_upgrade(false);
    return log::error("upgrade failed: the old process keeps serving",
                      {{"reason", std::string("socketpair: ") + std::strerror(errno)}});
  }
  upgrade_ = std::make_unique<upgrade_attempt>(control_, pair[0]);
  std::string error;
  upgrade_->child = spawn_successor(command_, pair[1], error);
  ::close(pair[1]);
  if (upgrade_->child < 0) return upgrade_failed(error);
  log::info("upgrade started", {{"executable", command_.executable}, {"pid", upgrade_->child}});
  await_successor(start_limit, &daemon::on_successor_hello);
}

void daemon::await_successor(milliseconds limit, void (daemon::*next)(upgrade_frame&)) {
  upgrade_->deadline.expires_after(limit);
  upgrade_->deadline.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && upgrade_) upgrade_failed("the new process did not answer in time");
  });
  upgrade_->readable.async_wait(boost::asio::posix::descriptor_base::wait_read,
                                [this, next](const boost::system::error_code& ec) {
                                  if (ec || !upgrade_) return;
                                  upgrade_->deadline.cancel();
                                  upgrade_frame frame;
                                  std::string error;
                                  if (!upgrade_->channel.receive(frame, step_limit, error))
                                    return upgrade_failed(error);
                                  if (frame.type == upgrade_message::refused) {
                                    const auto why = decode_text(frame);
                                    return upgrade_failed("the new process refused: " + why.value_or("?"));
                                  }
                                  (this->*next)(frame);
                                });
}

void daemon::on_successor_hello(upgrade_frame& frame) {
  if (frame.type != upgrade_message::hello) return upgrade_failed("unexpected message from the new process");
  handed_state state;
  state.pid = static_cast<std::uint32_t>(::getpid());
  state.workers = workers_;
  state.listeners = proxy_->listeners();
  state.admin_address = config_.admin.listen;
  state.admin_fd = admin_->listening_fd();
  state.health = checker_->hand_over();
  state.anycast_fd = anycast_device_ ? ::dup(anycast_device_->fd()) : -1;
  // The next process takes as free every pair not in use now: no session of ours joins after.
  state.sockmap = proxy_->lend_sockmap();
  std::vector<int> fds;
  const auto payload = encode(state, fds);
  std::string error;
  const bool sent = upgrade_->channel.send(upgrade_message::state, payload, fds, step_limit, error);
  // Copies of the listening sockets stay, to accept on again should the upgrade fail.
  upgrade_->listeners = std::move(state.listeners);
  if (state.admin_fd >= 0) ::close(state.admin_fd);
  if (state.anycast_fd >= 0) ::close(state.anycast_fd);
  state.sockmap.close_fds();
  if (!sent) return upgrade_failed(error);
  await_successor(start_limit, &daemon::on_successor_ready);
}

void daemon::on_successor_ready(upgrade_frame& frame) {
  if (frame.type != upgrade_message::ready) return upgrade_failed("unexpected message from the new process");
  // The new process accepts on the same sockets already: stop here, so that every connection
  // from now on is its own, then move the established ones.
  proxy_->stop_accepting();
  upgrade_->accepting_stopped = true;
  if (vrrp_) {
    upgrade_->vrrp = vrrp_->hand_over();
    upgrade_->vrrp_handed = true;
  }
  upgrade_->sessions = proxy_->hand_over_sessions();
  std::string error;
  if (!send_sessions(error)) return upgrade_failed(error);
  await_successor(step_limit, &daemon::on_successor_confirmed);
}

bool daemon::send_sessions(std::string& error) {
  const auto& all = upgrade_->sessions;
  for (std::size_t first = 0; first < all.size();) {
    std::vector<proxy::handed_session> batch;
    std::size_t bytes = 0;
    std::size_t i = first;
    for (; i < all.size() && batch.size() < sessions_per_message && bytes < bytes_per_message; ++i) {
      // A copy that shares the descriptors: the originals stay ours until the new one confirms.
      batch.push_back(all[i]);
      bytes += all[i].to_server.size() + all[i].to_client.size();
    }
    std::vector<int> fds;
    const auto payload = encode(batch, fds);
    if (!upgrade_->channel.send(upgrade_message::sessions, payload, fds, step_limit, error)) return false;
    first = i;
  }
  handed_end end;
  end.vrrp = upgrade_->vrrp;
  end.reload_requested = upgrade_->reload_requested;
  end.counters = metrics_.counters_state();  // as late as possible: nothing is counted here now
  return upgrade_->channel.send(upgrade_message::done, encode(end), {}, step_limit, error);
}

void daemon::on_successor_confirmed(upgrade_frame& frame) {
  if (frame.type != upgrade_message::confirm) return upgrade_failed("unexpected message from the new process");
  log::info("upgrade done: exiting", {{"pid", upgrade_->child}, {"sessions", upgrade_->sessions.size()}});
  anycast_.reset();  // the routes are the new process's now: this one leaves them as they are
  upgrade_.reset();  // closes our copies of the sessions and listening sockets
  exit_after_upgrade();
}

void daemon::upgrade_failed(const std::string& why) {
  auto attempt = std::move(upgrade_);
  attempt->deadline.cancel();
  attempt->readable.cancel();
  std::string ended;
  if (attempt->child > 0) {
    // Whatever it took stops with it, so nothing is served twice.
    ended = wait_exit(attempt->child, 100);
    if (ended.empty()) {
      ::kill(attempt->child, SIGKILL);
      wait_exit(attempt->child, 2000);
    }
  }
  if (attempt->accepting_stopped) proxy_->resume_accepting(std::exchange(attempt->listeners, {}));
  proxy_->take_back_sockmap();
  if (!attempt->sessions.empty()) proxy_->adopt_sessions(std::exchange(attempt->sessions, {}));
  if (attempt->vrrp_handed) vrrp_->take_back(attempt->vrrp);
  if (anycast_) anycast_->resync();  // whatever the new process changed in the table
  metrics_.on_upgrade(false);
  log::error("upgrade failed: the old process keeps serving",
             {{"reason", ended.empty() ? why : why + " (the new process " + ended + ")"}});
  if (attempt->reload_requested && !stopping_) reload();
}

void daemon::exit_after_upgrade() {
  stopping_ = true;
  checker_->stop();
  down_policy_->stop();
  slow_start_->stop();
  rebalancer_->stop();
  wait_sessions_then_stop(std::chrono::steady_clock::now() + leftover_grace);
}

}  // namespace cplb::app
