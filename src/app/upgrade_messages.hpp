#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cplb/health/handed_health.hpp"
#include "cplb/proxy/handover.hpp"
#include "cplb/vrrp/group.hpp"
#include "upgrade_channel.hpp"

namespace cplb::app {

/// What the old process hands over before the sessions (upgrade_message::state).
struct handed_state {
  std::uint32_t pid = 0;     ///< the old process
  std::uint32_t workers = 0; ///< its worker threads: the next process keeps the count
  std::vector<proxy::handed_listener> listeners;
  socket_address admin_address;
  int admin_fd = -1;
  std::vector<health::handed_health> health;
  int anycast_fd = -1;       ///< the anycast device, whose routes stay in place
  proxy::handed_sockmap sockmap;  ///< the sockmap data path's maps, with sessions in them
};

/// The end of the hand-over (upgrade_message::done).
struct handed_end {
  std::vector<vrrp::handed_instance> vrrp;
  bool reload_requested = false;  ///< a SIGHUP came during the upgrade
  std::string counters;           ///< metrics::exporter::counters_state(), last of all
};

// Each encoder returns the payload and appends the descriptors to send with it; each decoder
// takes the frame's descriptors (closing any it does not use) and returns nullopt for a payload
// that does not parse: it comes from another process, and is checked as untrusted input.
std::string encode(const handed_state& state, std::vector<int>& fds);
std::optional<handed_state> decode_state(upgrade_frame& frame);

std::string encode(const std::vector<proxy::handed_session>& batch, std::vector<int>& fds);
std::optional<std::vector<proxy::handed_session>> decode_sessions(upgrade_frame& frame);

std::string encode(const handed_end& end);
std::optional<handed_end> decode_end(const upgrade_frame& frame);

/// A small text message (hello: the pid; refused: why).
std::string encode_text(const std::string& text);
std::optional<std::string> decode_text(const upgrade_frame& frame);

}  // namespace cplb::app
