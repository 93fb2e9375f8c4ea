/* Which worker a new connection goes to: one with the least load, among those the first after
 * the worker chosen last, so ties take turns. A worker's load is its sessions plus the
 * connections placed on it that it has not accepted yet, so a burst of SYNs alternates over the workers and a worker that stalls
 * (descheduled, its queue growing) stops getting new ones. No slack: a few bulk sessions among
 * many idle ones would otherwise be placed by hash. Plain C shared by the BPF program and its
 * unit test; knows nothing of sockets. */
#ifndef CPLB_LEAST_SESSIONS_H
#define CPLB_LEAST_SESSIONS_H

#include <linux/types.h>

#define CPLB_MAX_WORKERS 64
/* A slot no worker publishes to: never the least. */
#define CPLB_NO_WORKER 0xffffffffu

/* What the workers and the program share. `sessions`: each slot's session count, published by
 * its worker, CPLB_NO_WORKER where no worker is. `pending`: connections the program placed on
 * the slot that its worker has not accepted yet (the program adds, the worker takes away); the
 * SYNs of a burst all arrive before the first accept, and without it would all go to the same
 * worker. It counts handshakes still in flight too, so an empty accept queue does not mean it
 * is zero. A placed connection that never arrives (a SYN dropped on a full queue, then placed
 * again when resent; a failed handshake) would be counted for ever, and a worker that looks
 * busy gets no connection to accept and so never corrects it: the count lapses once nothing
 * was placed on the slot for CPLB_PENDING_LAPSE_NS (`placed_ns`, bpf_ktime_get_ns). */
struct cplb_worker_sessions {
  __u32 sessions[CPLB_MAX_WORKERS];
  __s32 pending[CPLB_MAX_WORKERS];
  __u64 placed_ns[CPLB_MAX_WORKERS];
  __u32 last_placed; /* the slot the program chose last (written by the program only) */
};

/* Placements within a burst refresh it, so a burst is counted while it lasts; a slot that a leaked
 * count keeps from getting placements is free again this soon after. Long enough for a slow
 * worker: at 20 ms, a worker under AddressSanitizer that had not accepted yet had its pending
 * count lapse and took the next connection too. */
#define CPLB_PENDING_LAPSE_NS 200000000ull

/* The pending count of a slot that last had a connection placed on it at `placed_ns`, at
 * `now_ns`: nothing once negative (accepts outran the count) or lapsed. */
static inline __u32 cplb_live_pending(__s32 pending, __u64 placed_ns, __u64 now_ns) {
  if (pending <= 0 || now_ns - placed_ns > CPLB_PENDING_LAPSE_NS) return 0;
  return (__u32)pending;
}

/* A slot's load: its sessions and what is pending. */
static inline __u32 cplb_worker_load(__u32 sessions, __u32 live_pending) {
  if (sessions == CPLB_NO_WORKER) return CPLB_NO_WORKER;
  return sessions + live_pending;
}

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Returns the chosen slot, or -1 when no slot has a worker: the first least-loaded slot after
 * `last` (the slot chosen before), cycling. Taking turns rather than hashing matters when loads
 * tie: iperf3's four streams follow its control connection, and by hash one worker got three of
 * them in half the runs. `load` has CPLB_MAX_WORKERS entries. */
static __always_inline int cplb_pick_worker(const __u32 *load, __u32 last) {
  __u32 least = CPLB_NO_WORKER;
  for (int i = 0; i < CPLB_MAX_WORKERS; i++)
    if (load[i] < least) least = load[i];
  if (least == CPLB_NO_WORKER) return -1;
  for (__u32 n = 1; n <= CPLB_MAX_WORKERS; n++) {
    const __u32 i = (last + n) % CPLB_MAX_WORKERS;
    if (load[i] == least) return (int)i;
  }
  return -1;
}

#endif
