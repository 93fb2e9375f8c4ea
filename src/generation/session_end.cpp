#include "cplb/generation/session_end.hpp"

namespace cplb::generation {

const char* to_string(session_end why) {
  switch (why) {
    case session_end::client_closed: return "client_closed";
    case session_end::server_closed: return "server_closed";
    case session_end::client_error: return "client_error";
    case session_end::server_error: return "server_error";
    case session_end::idle_timeout: return "idle_timeout";
    case session_end::first_data_timeout: return "first_data_timeout";
    case session_end::connect_failed: return "connect_failed";
    case session_end::no_server: return "no_server";
    case session_end::local_error: return "local_error";
    case session_end::drained: return "drained";
    case session_end::rebalanced: return "rebalanced";
    case session_end::shutdown: return "shutdown";
  }
  return "unknown";
}

}  // namespace cplb::generation
