#pragma once
#include <cstring>
#include <string>

namespace cplb::proxy {

/// "what: reason" for a failed libbpf or bpf(2) call, which returns -errno or sets errno.
inline std::string bpf_failure(const char* what, int error) {
  return std::string(what) + ": " + std::strerror(error < 0 ? -error : error);
}

}  // namespace cplb::proxy
