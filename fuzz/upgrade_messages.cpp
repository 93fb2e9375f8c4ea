// The decoders of the binary upgrade's messages (src/app/upgrade_messages.cpp). Their payloads come
// from another process, so they are untrusted: whatever the bytes, a decoder returns nullopt or
// a value, and never reads out of bounds or leaks a descriptor. The first byte picks the message.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "upgrade_messages.hpp"

namespace {

/// A frame of `payload` carrying `count` real descriptors (of /dev/null), as the channel delivers.
cplb::app::upgrade_frame frame_of(std::string payload, unsigned count) {
  cplb::app::upgrade_frame f;
  f.payload = std::move(payload);
  for (unsigned i = 0; i < count; ++i) f.fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  return f;
}

void close_all(std::vector<cplb::proxy::handed_session>& sessions) {
  for (auto& s : sessions) s.close_fds();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const unsigned fds = data[1] % 8;
  std::string payload(reinterpret_cast<const char*>(data + 2), size - 2);
  auto frame = frame_of(payload, fds);
  switch (data[0] % 4) {
    case 0:
      if (auto state = cplb::app::decode_state(frame)) {
        for (auto& l : state->listeners)
          for (int fd : l.fds) ::close(fd);
        if (state->admin_fd >= 0) ::close(state->admin_fd);
        if (state->anycast_fd >= 0) ::close(state->anycast_fd);
        state->sockmap.close_fds();
      }
      break;
    case 1:
      if (auto sessions = cplb::app::decode_sessions(frame)) {
        // A decoded batch encodes back to the same payload (it came from this encoder's format).
        std::vector<int> out;
        if (cplb::app::encode(*sessions, out).size() != frame.payload.size()) std::abort();
        close_all(*sessions);
      }
      break;
    case 2:
      if (auto end = cplb::app::decode_end(frame)) {
        // What decodes survives a round trip.
        const auto again = cplb::app::decode_end(frame_of(cplb::app::encode(*end), 0));
        if (!again || again->counters != end->counters || again->vrrp.size() != end->vrrp.size() ||
            again->reload_requested != end->reload_requested)
          std::abort();
      }
      break;
    default:
      if (auto text = cplb::app::decode_text(frame))
        if (cplb::app::encode_text(*text) != frame.payload) std::abort();
      break;
  }
  return 0;
}
