#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/types.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "cplb/proxy/handover.hpp"
#include "cplb/vrrp/group.hpp"
#include "upgrade_channel.hpp"

namespace cplb::app {

/// The old process's side of one binary upgrade in progress: the new process, the channel to
/// it, and what has been handed over so far, so that a failure can take it all back.
struct upgrade_attempt {
  upgrade_attempt(boost::asio::io_context& io, int channel_fd)
      : channel(channel_fd), readable(io, ::dup(channel_fd)), deadline(io) {}
  ~upgrade_attempt() {
    for (auto& l : listeners)
      for (int fd : l.fds) ::close(fd);
    for (auto& s : sessions) s.close_fds();
  }

  pid_t child = -1;
  upgrade_channel channel;
  boost::asio::posix::stream_descriptor readable;  ///< waits for the next message
  boost::asio::steady_timer deadline;              ///< for the new process's next step
  std::vector<proxy::handed_listener> listeners;   ///< copies sent: accepted on again on failure
  std::vector<proxy::handed_session> sessions;     ///< sent, held until the new one confirms
  std::vector<vrrp::handed_instance> vrrp;         ///< handed over: taken back on failure
  bool accepting_stopped = false;
  bool vrrp_handed = false;
  bool reload_requested = false;  ///< a SIGHUP came meanwhile
};

}  // namespace cplb::app
