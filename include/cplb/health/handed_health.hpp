#pragma once
#include <string>

#include "cplb/backend/server.hpp"

namespace cplb::health {

/// One server's health as the previous process knew it, carried across a binary upgrade so that
/// no server is relearnt: state, reason and the rise/fall counts in progress.
struct handed_health {
  std::string backend;
  std::string server;
  std::string address;  ///< a server replaced under the same name starts afresh
  backend::server_state state = backend::server_state::unchecked;
  backend::down_reason reason = backend::down_reason::not_checked;
  std::string detail;
  unsigned passes = 0;
  unsigned failures = 0;
  bool reachable = false;
};

}  // namespace cplb::health
