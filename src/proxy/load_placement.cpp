#include "load_placement.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "bpf/least_sessions.h"
#include "bpf/objects.hpp"
#include "bpf_failure.hpp"

namespace cplb::proxy {

namespace {

constexpr std::size_t map_bytes = sizeof(cplb_worker_sessions);

/// libbpf prints to stderr by default; cplb reports its own failures in one line instead.
int quiet(libbpf_print_level, const char*, va_list) { return 0; }

/// The program of bpf/least_sessions.bpf.c, loaded with the shared count map.
class loaded_program {
 public:
  explicit loaded_program(int counts_fd, std::string& error) {
    object_ = bpf_object__open_mem(bpf::least_sessions, bpf::least_sessions_size, nullptr);
    if (!object_) {
      error = bpf_failure("cannot open the BPF object", errno);
      return;
    }
    bpf_map* counts = bpf_object__find_map_by_name(object_, "worker_sessions");
    if (int e = counts ? bpf_map__reuse_fd(counts, counts_fd) : -ENOENT; e != 0) {
      error = bpf_failure("cannot share the session counts", e);
      return;
    }
    if (int e = bpf_object__load(object_); e != 0) {
      error = bpf_failure("cannot load the BPF program", e);
      return;
    }
    listeners_fd_ = bpf_object__find_map_fd_by_name(object_, "listeners");
    bpf_program* program = bpf_object__find_program_by_name(object_, "pick_least_sessions");
    program_fd_ = program ? bpf_program__fd(program) : -1;
    if (listeners_fd_ < 0 || program_fd_ < 0) error = "the BPF object lacks its map or program";
  }
  ~loaded_program() { bpf_object__close(object_); }
  loaded_program(const loaded_program&) = delete;
  loaded_program& operator=(const loaded_program&) = delete;

  int listeners_fd() const { return listeners_fd_; }
  int program_fd() const { return program_fd_; }

 private:
  bpf_object* object_ = nullptr;
  int listeners_fd_ = -1;
  int program_fd_ = -1;
};

}  // namespace

load_placement::load_placement(unsigned workers) : workers_(workers) {
  libbpf_set_print(quiet);
  if (workers < 2) {
    reason_ = "one worker";
    return;
  }
  if (workers > CPLB_MAX_WORKERS) {
    reason_ = "more than " + std::to_string(CPLB_MAX_WORKERS) + " workers";
    return;
  }
  LIBBPF_OPTS(bpf_map_create_opts, options, .map_flags = BPF_F_MMAPABLE);
  map_fd_ = bpf_map_create(BPF_MAP_TYPE_ARRAY, "cplb_sessions", sizeof(std::uint32_t), map_bytes,
                           1, &options);
  if (map_fd_ < 0) {
    reason_ = bpf_failure("cannot create a BPF map (needs CAP_BPF)", errno);
    return;
  }
  void* counts = ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd_, 0);
  if (counts == MAP_FAILED) {
    reason_ = bpf_failure("cannot map the BPF array", errno);
    ::close(map_fd_);
    map_fd_ = -1;
    return;
  }
  counts_ = static_cast<cplb_worker_sessions*>(counts);
  for (unsigned i = 0; i < CPLB_MAX_WORKERS; ++i) {
    counts_->sessions[i] = i < workers ? 0 : CPLB_NO_WORKER;
    counts_->pending[i] = 0;
    counts_->placed_ns[i] = 0;
  }
}

load_placement::~load_placement() {
  if (counts_) ::munmap(counts_, map_bytes);
  if (map_fd_ >= 0) ::close(map_fd_);
}

bool load_placement::attach(std::span<const int> listeners, std::string& error) const {
  if (!available() || listeners.size() != workers_) {
    error = available() ? "one listening socket per worker is needed" : reason_;
    return false;
  }
  // The attached program holds its maps; the object itself can go once attached.
  loaded_program program(map_fd_, error);
  if (!error.empty()) return false;
  for (std::uint32_t slot = 0; slot < listeners.size(); ++slot) {
    const std::uint64_t fd = static_cast<std::uint64_t>(listeners[slot]);
    if (bpf_map_update_elem(program.listeners_fd(), &slot, &fd, BPF_ANY) != 0) {
      error = bpf_failure("cannot add a listening socket to the BPF map", errno);
      return false;
    }
  }
  const int prog = program.program_fd();
  if (::setsockopt(listeners[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog, sizeof prog) != 0) {
    error = bpf_failure("cannot attach the reuseport program", errno);
    return false;
  }
  return true;
}

void load_placement::publish(unsigned slot, std::int64_t sessions) noexcept {
  if (!counts_ || slot >= workers_) return;
  const auto n = sessions < 0 ? 0 : static_cast<std::uint64_t>(sessions);
  std::atomic_ref<std::uint32_t>(counts_->sessions[slot])
      .store(n >= CPLB_NO_WORKER ? CPLB_NO_WORKER - 1 : static_cast<std::uint32_t>(n),
             std::memory_order_relaxed);
}

void load_placement::accepted(unsigned slot) noexcept {
  if (!counts_ || slot >= workers_) return;
  // Never below zero: a connection the kernel's hash placed (one that came before the program
  // was attached, as a start-up probe can) would leave -1, and the next placement on the slot
  // would then not count.
  std::atomic_ref<std::int32_t> pending(counts_->pending[slot]);
  std::int32_t now = pending.load(std::memory_order_relaxed);
  while (now > 0 && !pending.compare_exchange_weak(now, now - 1, std::memory_order_relaxed)) {
  }
}

}  // namespace cplb::proxy
