#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cplb/core/socket_address.hpp"

namespace cplb::proxy {

/// The state of a session's client, for rebalancing (client_activity), carried across an upgrade.
struct handed_activity {
  std::int64_t since_request_ns = 0;  ///< time since the client's last request
  std::int64_t window_age_ns = 0;     ///< age of the current quiet window
  std::uint64_t window_bytes = 0;
  std::uint8_t framing = 0;
  std::uint8_t header[5] = {};
  std::uint8_t header_have = 0;
  std::uint64_t record_left = 0;
};

/// One session stopped on its worker for a binary upgrade: its two descriptors (open, no longer
/// in any epoll set) and everything the byte pump needs to resume it elsewhere without losing a
/// byte. Times are ages, so they survive a move between processes.
struct handed_session {
  int client_fd = -1;
  int upstream_fd = -1;            ///< -1 before the upstream connect
  std::string frontend;            ///< frontend name
  std::string server;              ///< server name in the frontend's backend ("" with no upstream)
  std::string server_address;      ///< and its address, so a replaced server is not mistaken
  std::string to_server;           ///< bytes read from the client, not yet sent to the server
  std::string to_client;           ///< bytes read from the server, not yet sent to the client
  bool client_done = false;        ///< the client's EOF was passed on (half-close)
  bool server_done = false;        ///< the server's EOF was passed on
  bool client_finished_first = false;
  bool connecting = false;         ///< the upstream connect is in progress
  bool awaiting_first_bytes = false;
  std::int64_t age_ns = 0;         ///< since the client connected
  std::int64_t idle_ns = 0;        ///< since the last byte either way
  std::int64_t close_in_ns = -1;   ///< a pending drain close (-1: none)
  std::uint64_t client_key = 0;
  handed_activity activity;
  /// The sockmap path: the pair of slots its legs hold in the maps handed over with the state,
  /// or -1 when it is not in them; and per direction (to the server, to the client) the bytes
  /// written into the receiving leg before it went in and the kernel's bytes already counted.
  std::int64_t sockmap_pair = -1;
  std::uint64_t written_base[2] = {0, 0};
  std::uint64_t redirect_counted[2] = {0, 0};

  /// Closes the descriptors still held (the receiving process has its own copies).
  void close_fds() noexcept;
};

/// The maps of the sockmap data path, handed to the next process at a binary upgrade with the
/// sessions in them: a socket leaves a sockhash only by closing. -1 each on the epoll path.
struct handed_sockmap {
  int socks_fd = -1;
  int slots_fd = -1;
  int legs_fd = -1;
  void close_fds() noexcept;
};

/// A frontend's listening sockets, one per worker, shared with an upgraded process.
struct handed_listener {
  socket_address address;
  std::vector<int> fds;  ///< [worker]
};

}  // namespace cplb::proxy
