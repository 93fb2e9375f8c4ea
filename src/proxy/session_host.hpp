#pragma once
#include <cstdint>
#include <span>

#include "buffer_account.hpp"
#include "cplb/backend/backend.hpp"
#include "event_loop.hpp"
#include "splice_pipe.hpp"

namespace cplb::proxy {

class session;
class sockmap_path;

/// What a session needs from the worker it lives on. The worker implements it; the session unit
/// tests implement it over an event loop of their own, with a fake clock and socketpairs.
class session_host {
 public:
  /// The loop the session's descriptors and deadline live in.
  virtual event_loop& loop() = 0;
  /// The index of the per-worker counter slots this session writes.
  virtual unsigned slot() const = 0;
  /// Scratch buffer for one read: data only passes through it, so idle sessions hold none.
  virtual std::span<char> scratch() = 0;
  /// What all sessions hold for slow peers, against max_buffer_memory.
  virtual buffer_account& buffers() = 0;
  /// The pipes bulk directions move through with splice.
  virtual pipe_budget& pipes() = 0;
  /// The in-kernel data path bulk sessions go to, or null on the epoll path.
  virtual sockmap_path* sockmap() { return nullptr; }
  /// Picks a server of `backend` among `eligible` and counts the session on it (its
  /// active_sessions): its index, or -1 when none. The session takes the count off again.
  virtual int pick(const backend::backend& backend, backend::server_mask eligible,
                   std::uint64_t client_key) = 0;
  /// A connect to `server` failed (passive health detection).
  virtual void connect_failed(const backend::server_ptr& server, backend::down_reason why) = 0;
  /// A session started; it is live until session_ended.
  virtual void session_started(session& s) = 0;
  /// A session ended (it is freed after the loop's turn): forget it and give its connection
  /// slot back.
  virtual void session_ended(session& s) = 0;
  /// A session passed on `bytes` more (either way), for the host's own totals.
  virtual void moved_bytes(std::uint64_t bytes) { static_cast<void>(bytes); }

 protected:
  ~session_host() = default;
};

}  // namespace cplb::proxy
