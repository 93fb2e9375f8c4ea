/* SO_ATTACH_REUSEPORT_EBPF program: sends each new connection of a frontend to the listening
 * socket of the worker with the fewest sessions (least_sessions.h), instead of the kernel's
 * address hash. Each worker publishes its count into `worker_sessions` (one element: the
 * counts of every worker slot), which cplb maps into its memory. When no socket can be picked,
 * the kernel's hash decides as before. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "least_sessions.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct cplb_worker_sessions);
} worker_sessions SEC(".maps");

/* Worker slot -> that worker's listening socket of this frontend. A sockmap rather than a
 * reuseport sockarray: a socket can be in only one sockarray, but in several sockmaps, so the
 * new process of a binary upgrade can place connections over the sockets it inherits while the
 * old one still holds them. */
struct {
  __uint(type, BPF_MAP_TYPE_SOCKMAP);
  __uint(max_entries, CPLB_MAX_WORKERS);
  __type(key, __u32);
  __type(value, __u64);
} listeners SEC(".maps");

SEC("sk_reuseport")
int pick_least_sessions(struct sk_reuseport_md *md) {
  __u32 zero = 0;
  struct cplb_worker_sessions *counts = bpf_map_lookup_elem(&worker_sessions, &zero);
  if (!counts) return SK_PASS;
  const __u64 now = bpf_ktime_get_ns();
  __u32 load[CPLB_MAX_WORKERS];
  for (int i = 0; i < CPLB_MAX_WORKERS; i++) {
    const __u32 pending = cplb_live_pending(counts->pending[i], counts->placed_ns[i], now);
    if (pending == 0 && counts->pending[i] > 0) counts->pending[i] = 0;  /* lapsed: start afresh */
    load[i] = cplb_worker_load(counts->sessions[i], pending);
  }
  int slot = cplb_pick_worker(load, counts->last_placed);
  if (slot < 0 || slot >= CPLB_MAX_WORKERS) return SK_PASS;
  __u32 key = (__u32)slot;
  if (bpf_sk_select_reuseport(md, &listeners, &key, 0) == 0) {
    __sync_fetch_and_add(&counts->pending[slot], 1);
    counts->placed_ns[slot] = now;
    counts->last_placed = key; /* SYNs on two CPUs at once may both take this turn: harmless */
  }
  return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
