#pragma once
#include <cstdint>
#include <span>
#include <string>

struct cplb_worker_sessions;

namespace cplb::proxy {

/// Sends each new connection to the worker with the fewest sessions (bpf/least_sessions.h)
/// rather than by SO_REUSEPORT's address hash, which ignores load: a reuseport BPF program on
/// each frontend's group of listening sockets reads the counts the workers publish into a
/// BPF array mapped into this process. Needs CAP_BPF (root); without it, or on a kernel that
/// refuses, connections are spread by hash as before and `available()` says why not.
class load_placement {
 public:
  /// Creates the shared count map; on failure the placement stays off.
  explicit load_placement(unsigned workers);
  ~load_placement();
  load_placement(const load_placement&) = delete;
  load_placement& operator=(const load_placement&) = delete;

  /// True when connections are placed by load.
  bool available() const { return counts_ != nullptr; }
  /// Why placement by load is off (empty when it is on).
  const std::string& unavailable_reason() const { return reason_; }

  /// Attaches the program to the group of one frontend's listening sockets, `listeners[w]`
  /// being worker w's. False with `error` set when it cannot (the group keeps the hash).
  bool attach(std::span<const int> listeners, std::string& error) const;

  /// Publishes worker `slot`'s session count; any thread, lock-free.
  void publish(unsigned slot, std::int64_t sessions) noexcept;
  /// Worker `slot` accepted a connection the program may have placed on it.
  void accepted(unsigned slot) noexcept;

 private:
  int map_fd_ = -1;
  cplb_worker_sessions* counts_ = nullptr;  ///< the map's one value, mmapped
  unsigned workers_;
  std::string reason_;
};

}  // namespace cplb::proxy
