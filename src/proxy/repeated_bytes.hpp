#pragma once
#include <cstddef>
#include <cstdint>

struct cplb_leg;

namespace cplb::proxy {

/// The sockmap path: drops from `data` (`size` bytes just read from what the program left on a
/// leg, the first of them at `offset` in all it left) the repeated heads of segments that the
/// program posted in `leg` (bpf/session_redirect.h), from repeat `done` on. Moves the bytes kept
/// to the front of `data` and returns their count; `done` counts the repeats wholly dropped.
std::size_t drop_repeats(cplb_leg& leg, std::uint64_t& done, std::uint64_t offset, char* data, std::size_t size);

}  // namespace cplb::proxy
