#pragma once
#include <chrono>
#include <string>

#include "cplb/backend/server.hpp"

namespace cplb::health {

/// What one probe found.
struct probe_result {
  bool passed = false;     ///< the check succeeded
  bool connected = false;  ///< the TCP connect succeeded (even if TLS or HTTP then failed)
  /// The probe could not run for a reason of our own (out of descriptors or memory): it says
  /// nothing about the server and is not counted.
  bool local_failure = false;
  backend::down_reason reason = backend::down_reason::none;  ///< why it failed; none if passed
  std::string detail;  ///< OpenSSL's verify error, the HTTP status, the socket error, ...
  std::chrono::duration<double> took{0};  ///< from start to verdict (TLS close not included)
};

}  // namespace cplb::health
