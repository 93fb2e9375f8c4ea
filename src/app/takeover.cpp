// Binary upgrade, the new process's side: receive what the old process hands over, serve on its
// listening sockets, then take its sessions and VRRP state (see docs/design.md).
#include <boost/asio/post.hpp>

#include <unistd.h>

#include <stdexcept>

#include "cplb/core/log.hpp"
#include "daemon.hpp"
#include "predecessor_watch.hpp"

namespace cplb::app {

namespace {

using std::chrono::milliseconds;

/// The old process answers each step at once; it waits for ours with its own deadlines.
constexpr milliseconds step_limit{5'000};

}  // namespace

void daemon::receive_takeover_state() {
  std::string error;
  upgrade_frame frame;
  if (!takeover_->send(upgrade_message::hello, encode_text(std::to_string(::getpid())), {}, step_limit, error) ||
      !takeover_->receive(frame, step_limit, error))
    throw std::runtime_error("taking over: " + error);
  if (frame.type != upgrade_message::state || !(inherited_ = decode_state(frame)))
    throw std::runtime_error("taking over: the old process sent a malformed state");
  inherited_anycast_fd_ = std::exchange(inherited_->anycast_fd, -1);
  if (inherited_->workers > 0 && inherited_->workers != workers_) {
    log::warn("global.workers changes only on restart: keeping the running value",
              {{"running", inherited_->workers}, {"configured", workers_}});
    workers_ = inherited_->workers;  // one thread per listening socket handed over
  }
}

void daemon::finish_takeover() {
  const auto old_pid = inherited_->pid;
  inherited_.reset();
  if (inherited_anycast_fd_ >= 0) ::close(std::exchange(inherited_anycast_fd_, -1));  // no anycast here
  std::string error;
  std::vector<proxy::handed_session> sessions;
  std::optional<handed_end> end;
  if (takeover_->send(upgrade_message::ready, {}, {}, step_limit, error)) {
    for (upgrade_frame frame; takeover_->receive(frame, step_limit, error);) {
      if (frame.type == upgrade_message::done) {
        end = decode_end(frame);
        break;
      }
      auto batch = frame.type == upgrade_message::sessions ? decode_sessions(frame) : std::nullopt;
      if (!batch) {
        error = "malformed message from the old process";
        break;
      }
      std::move(batch->begin(), batch->end(), std::back_inserter(sessions));
    }
  }
  const std::size_t count = sessions.size();
  proxy_->adopt_sessions(std::move(sessions));
  // The sessions the old process keeps (ending, leaving) hold sockmap pairs until it has ended.
  predecessor_ = std::make_unique<predecessor_watch>(control_, static_cast<pid_t>(old_pid), [this] {
    if (const auto pairs = proxy_->free_inherited_sockmap_pairs(); pairs > 0)
      log::info("sockmap pairs of the previous process's last sessions freed", {{"pairs", pairs}});
    boost::asio::post(control_, [this] { predecessor_.reset(); });  // not from inside its own handler
  });
  if (end) metrics_.inherit_counters(end->counters);
  if (held_vrrp_group_) vrrp_ = std::move(held_vrrp_group_);
  if (vrrp_ && end) vrrp_->inherit(end->vrrp);
  if (held_vrrp_plan_) vrrp_->commit(std::move(held_vrrp_plan_));
  update_vrrp_tracking();
  publish_vrrp_status();
  if (!end || !takeover_->send(upgrade_message::confirm, {}, {}, step_limit, error)) {
    // The old process is gone, or will end this one: serve what arrived, elect afresh.
    log::error("taking over: the old process stopped during the hand-over",
               {{"error", error}, {"sessions", count}});
    takeover_.reset();
    return;
  }
  takeover_.reset();
  metrics_.on_upgrade(true);
  log::info("took over from the previous process", {{"pid", old_pid}, {"sessions", count}});
  if (end->reload_requested) {
    log::info("applying the reload requested during the upgrade");
    reload();
  }
}

}  // namespace cplb::app
