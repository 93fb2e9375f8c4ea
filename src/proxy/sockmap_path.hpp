#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cplb/proxy/handover.hpp"

struct cplb_leg;

namespace cplb::proxy {

/// The in-kernel data path (`global.data_path: sockmap`): a sockhash of the legs of bulk
/// sessions with the stream verdict program of bpf/session_redirect.bpf.c attached, which moves
/// each session's bytes from one leg to the other inside the kernel within a credit, and a
/// mapped array of per-leg state the sessions and the program share (bpf/session_redirect.h).
/// One per process; any worker takes and gives back slot pairs.
///
/// A socket is never deleted from the sockhash: deleting one while bytes the program left on it
/// are unread loses them (the stream wedges), so a leg stays in until it closes, and the maps go
/// to the next process at an upgrade.
class sockmap_path {
 public:
  /// Loads the program with maps for `pairs` sessions; `reason()` says why when it cannot.
  explicit sockmap_path(std::uint32_t pairs);
  /// Takes over the maps of the process before this one (upgrade). The program stays attached
  /// to its sockhash. The pairs its sessions hold are taken until `free_pair`, or, for those of
  /// the sessions it kept (ending, leaving), until `free_inherited` finds them closed.
  sockmap_path(handed_sockmap maps, std::string& error);
  ~sockmap_path();
  sockmap_path(const sockmap_path&) = delete;
  sockmap_path& operator=(const sockmap_path&) = delete;

  /// True when sessions can go in.
  bool available() const { return legs_ != nullptr; }
  /// Why the path is not available.
  const std::string& reason() const { return reason_; }

  /// How many pairs the maps hold.
  std::uint32_t pairs() const { return pairs_; }
  /// A free pair of slots (2k: client leg, 2k+1: upstream leg), or nullopt when all are in use
  /// or joining is not allowed.
  std::optional<std::uint32_t> take_pair();
  /// Whether sessions may take pairs: not while the maps are lent to a next process, which counts
  /// as free every pair not in use when it took them.
  void allow_joining(bool allowed);
  /// Gives pair `k` back once both its sockets are closed.
  void free_pair(std::uint32_t k);
  /// A session handed over by the previous process holds pair `k` here now: `free_pair` gives it
  /// back, not `free_inherited`.
  void claim(std::uint32_t k);
  /// Gives back the pairs taken over from the previous process whose sockets have all left the
  /// sockhash (closed by that process, which keeps the sessions that could not move until they
  /// end): the count given back.
  std::size_t free_inherited();

  /// Puts `fd` in the sockhash at `slot`. Its state must be set first. False with errno set.
  bool insert(std::uint32_t slot, int fd, std::uint64_t& cookie);
  /// Forgets a closed socket's cookie.
  void forget(std::uint64_t cookie);
  /// The shared state of `slot`'s leg.
  cplb_leg& leg(std::uint32_t slot);

  /// Duplicates of the maps' descriptors, for the next process.
  handed_sockmap hand_over() const;

 private:
  bool map_legs(std::uint32_t entries);
  /// True while a socket is in the sockhash at `slot`, or when a failed lookup cannot tell.
  bool occupied(std::uint32_t slot) const;
  /// The cookie map's entries: each socket's cookie and its slot.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> cookies() const;

  int socks_fd_ = -1;
  int slots_fd_ = -1;
  int legs_fd_ = -1;
  cplb_leg* legs_ = nullptr;
  std::size_t mapped_bytes_ = 0;
  std::uint32_t pairs_ = 0;
  std::string reason_;
  std::mutex mutex_;
  std::vector<std::uint32_t> free_;  ///< free pairs
  std::vector<bool> inherited_;      ///< pairs taken over from the previous process, not yet given back
  bool joining_ = true;
};

}  // namespace cplb::proxy
