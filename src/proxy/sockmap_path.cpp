#include "sockmap_path.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpf/objects.hpp"
#include "bpf_failure.hpp"
#include "bpf/session_redirect.h"

namespace cplb::proxy {

namespace {

int duplicate(int fd) { return fd < 0 ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }

}  // namespace

sockmap_path::sockmap_path(std::uint32_t pairs) {
  const std::uint32_t entries = pairs * 2;
  bpf_object* object = bpf_object__open_mem(bpf::session_redirect, bpf::session_redirect_size, nullptr);
  if (!object) {
    reason_ = bpf_failure("cannot open the BPF object", errno);
    return;
  }
  bpf_map* maps[] = {bpf_object__find_map_by_name(object, "socks"),
                     bpf_object__find_map_by_name(object, "slots"),
                     bpf_object__find_map_by_name(object, "legs")};
  bpf_program* program = bpf_object__find_program_by_name(object, "redirect_within_credit");
  if (!maps[0] || !maps[1] || !maps[2] || !program) {
    reason_ = "the BPF object lacks its maps or program";
    bpf_object__close(object);
    return;
  }
  for (bpf_map* m : maps) bpf_map__set_max_entries(m, entries);
  if (int e = bpf_object__load(object); e != 0) {
    reason_ = bpf_failure("cannot load the sockmap program (needs CAP_BPF and CAP_NET_ADMIN)", e);
    bpf_object__close(object);
    return;
  }
  // The maps outlive the object through descriptors of their own: the attached program lives
  // as long as its sockhash does.
  socks_fd_ = duplicate(bpf_map__fd(maps[0]));
  slots_fd_ = duplicate(bpf_map__fd(maps[1]));
  legs_fd_ = duplicate(bpf_map__fd(maps[2]));
  const int attached = bpf_prog_attach(bpf_program__fd(program), socks_fd_, BPF_SK_SKB_STREAM_VERDICT, 0);
  const int attach_error = errno;
  bpf_object__close(object);
  if (attached != 0) {
    reason_ = bpf_failure("cannot attach the stream verdict program", attach_error);
    return;
  }
  if (!map_legs(entries)) return;
  pairs_ = pairs;
  free_.reserve(pairs);
  for (std::uint32_t k = pairs; k-- > 0;) free_.push_back(k);
}

sockmap_path::sockmap_path(handed_sockmap maps, std::string& error)
    : socks_fd_(maps.socks_fd), slots_fd_(maps.slots_fd), legs_fd_(maps.legs_fd) {
  bpf_map_info info{};
  std::uint32_t size = sizeof info;
  if (legs_fd_ < 0 || bpf_obj_get_info_by_fd(legs_fd_, &info, &size) != 0 ||
      info.type != BPF_MAP_TYPE_ARRAY || info.value_size != sizeof(cplb_leg) ||
      !(info.map_flags & BPF_F_MMAPABLE) || info.max_entries % 2 != 0) {
    error = reason_ = "the handed-over sockmap maps are not this version's";
    return;
  }
  if (!map_legs(info.max_entries)) {
    error = reason_;
    return;
  }
  // The pairs of the sessions in the maps are taken: their cookies are in `slots`.
  pairs_ = info.max_entries / 2;
  std::vector<bool> taken(pairs_, false);
  for (const auto& [cookie, slot] : cookies())
    if (slot / 2 < pairs_) taken[slot / 2] = true;
  for (std::uint32_t k = static_cast<std::uint32_t>(taken.size()); k-- > 0;)
    if (!taken[k]) free_.push_back(k);
  inherited_ = std::move(taken);
}

sockmap_path::~sockmap_path() {
  if (legs_) ::munmap(legs_, mapped_bytes_);
  for (int fd : {socks_fd_, slots_fd_, legs_fd_})
    if (fd >= 0) ::close(fd);
}

bool sockmap_path::map_legs(std::uint32_t entries) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  mapped_bytes_ = (sizeof(cplb_leg) * entries + page - 1) / page * page;
  void* at = ::mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, legs_fd_, 0);
  if (at == MAP_FAILED) {
    reason_ = bpf_failure("cannot map the leg states", errno);
    return false;
  }
  legs_ = static_cast<cplb_leg*>(at);
  return true;
}

std::optional<std::uint32_t> sockmap_path::take_pair() {
  std::lock_guard lock(mutex_);
  if (!joining_ || free_.empty()) return std::nullopt;
  const auto k = free_.back();
  free_.pop_back();
  return k;
}

void sockmap_path::allow_joining(bool allowed) {
  std::lock_guard lock(mutex_);
  joining_ = allowed;
}

void sockmap_path::free_pair(std::uint32_t k) {
  std::lock_guard lock(mutex_);
  free_.push_back(k);
}

void sockmap_path::claim(std::uint32_t k) {
  std::lock_guard lock(mutex_);
  if (k < inherited_.size()) inherited_[k] = false;
}

std::size_t sockmap_path::free_inherited() {
  std::vector<std::uint32_t> pairs;  // inherited, then those of them found empty
  {
    std::lock_guard lock(mutex_);
    if (!joining_) return 0;  // lent to a next process meanwhile: the maps' pairs are its to count
    for (std::uint32_t k = 0; k < inherited_.size(); ++k)
      if (inherited_[k]) pairs.push_back(k);
  }
  // The lookups without the lock: the workers take and give back pairs meanwhile. No one holds
  // an inherited pair here, and a claimed one has its sockets in the sockhash.
  std::erase_if(pairs, [this](std::uint32_t k) { return occupied(2 * k) || occupied(2 * k + 1); });
  {
    std::lock_guard lock(mutex_);
    std::erase_if(pairs, [this](std::uint32_t k) {
      const bool claimed = !inherited_[k];  // meanwhile
      inherited_[k] = false;
      return claimed;
    });
  }
  if (pairs.empty()) return 0;
  // Cookies still naming a reclaimed pair's slots (the previous process did not live to forget
  // them) would fill the map; they go before the pair can be taken again.
  std::vector<bool> reclaimed(pairs_, false);
  for (auto k : pairs) reclaimed[k] = true;
  for (const auto& [cookie, slot] : cookies())
    if (slot / 2 < pairs_ && reclaimed[slot / 2]) forget(cookie);
  std::lock_guard lock(mutex_);
  free_.insert(free_.end(), pairs.begin(), pairs.end());
  return pairs.size();
}

std::vector<std::pair<std::uint64_t, std::uint32_t>> sockmap_path::cookies() const {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> out;
  std::uint64_t key = 0, next = 0;
  for (void* at = nullptr; bpf_map_get_next_key(slots_fd_, at, &next) == 0; at = &key) {
    key = next;
    std::uint32_t slot = 0;
    if (bpf_map_lookup_elem(slots_fd_, &key, &slot) == 0) out.emplace_back(key, slot);
  }
  return out;
}

bool sockmap_path::occupied(std::uint32_t slot) const {
  std::uint64_t cookie = 0;  // a sockhash read from user space gives the socket's cookie
  // Only "no such entry" says empty: any other failure keeps the pair taken.
  return bpf_map_lookup_elem(socks_fd_, &slot, &cookie) == 0 || errno != ENOENT;
}

bool sockmap_path::insert(std::uint32_t slot, int fd, std::uint64_t& cookie) {
  socklen_t len = sizeof cookie;
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) return false;
  if (bpf_map_update_elem(slots_fd_, &cookie, &slot, BPF_ANY) != 0) return false;
  const std::uint64_t value = static_cast<std::uint64_t>(fd);
  if (bpf_map_update_elem(socks_fd_, &slot, &value, BPF_ANY) == 0) return true;
  const int error = errno;
  forget(cookie);
  errno = error;
  return false;
}

void sockmap_path::forget(std::uint64_t cookie) { bpf_map_delete_elem(slots_fd_, &cookie); }

cplb_leg& sockmap_path::leg(std::uint32_t slot) { return legs_[slot]; }

handed_sockmap sockmap_path::hand_over() const {
  return {duplicate(socks_fd_), duplicate(slots_fd_), duplicate(legs_fd_)};
}

}  // namespace cplb::proxy
