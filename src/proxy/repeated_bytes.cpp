#include "repeated_bytes.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "bpf/session_redirect.h"

namespace cplb::proxy {

std::size_t drop_repeats(cplb_leg& leg, std::uint64_t& done, std::uint64_t offset, char* data, std::size_t size) {
  const std::uint64_t last = offset + size;
  std::uint64_t at = offset;  // the next byte to keep or drop
  std::size_t kept = 0;
  const auto keep_until = [&](std::uint64_t until) {
    std::memmove(data + kept, data + (at - offset), until - at);
    kept += until - at;
    at = until;
  };
  // The program posts a repeat before it leaves the segment for reading: one read may be behind.
  while (done < std::atomic_ref(leg.repeats).load(std::memory_order_acquire)) {
    const cplb_repeat& r = leg.repeat[done % CPLB_REPEAT_SLOTS];
    const std::uint64_t begin = r.at, end = r.at + r.bytes;
    if (begin >= last) break;
    keep_until(std::max(begin, at));
    at = std::max(at, std::min(end, last));
    if (end > last) break;  // goes on into the next read
    ++done;
  }
  keep_until(last);
  return kept;
}

}  // namespace cplb::proxy
