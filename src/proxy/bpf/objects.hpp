#pragma once
#include <cstddef>

namespace cplb::proxy::bpf {

/// bpf/least_sessions.bpf.c compiled for BPF (embedded at build time, cmake/embed_file.cmake).
extern const unsigned char least_sessions[];
extern const std::size_t least_sessions_size;

}  // namespace cplb::proxy::bpf
