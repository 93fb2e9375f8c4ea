#pragma once
#include <cstddef>

namespace cplb::proxy::bpf {

// The BPF programs of this directory, compiled for BPF and embedded at build time
// (cmake/embed_file.cmake).

/// least_sessions.bpf.c: the reuseport program that places connections by load.
extern const unsigned char least_sessions[];
extern const std::size_t least_sessions_size;

/// session_redirect.bpf.c: the sockmap data path's stream verdict program.
extern const unsigned char session_redirect[];
extern const std::size_t session_redirect_size;

}  // namespace cplb::proxy::bpf
