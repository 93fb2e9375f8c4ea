/* Which worker a new connection goes to: one whose session count is within an eighth of the
 * least (exactly the least while counts are below 8), chosen among those by the connection's
 * hash. Plain C shared by the BPF program and its unit test; knows nothing of sockets. */
#ifndef CPLB_LEAST_SESSIONS_H
#define CPLB_LEAST_SESSIONS_H

#include <linux/types.h>

#define CPLB_MAX_WORKERS 64
/* A slot no worker publishes to: never the least. */
#define CPLB_NO_WORKER 0xffffffffu

/* What the workers publish: each slot's session count, CPLB_NO_WORKER where no worker is. */
struct cplb_worker_sessions {
  __u32 sessions[CPLB_MAX_WORKERS];
};

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Returns the chosen slot, or -1 when no slot has a worker. `sessions` has CPLB_MAX_WORKERS
 * entries. The slack keeps a storm spread by hash: every SYN of a burst sees the counts of
 * before it, and without slack all of them would go to the one worker that was least. */
static __always_inline int cplb_pick_worker(const __u32 *sessions, __u32 hash) {
  __u32 least = CPLB_NO_WORKER;
  for (int i = 0; i < CPLB_MAX_WORKERS; i++)
    if (sessions[i] < least) least = sessions[i];
  if (least == CPLB_NO_WORKER) return -1;
  const __u32 limit = least + least / 8;
  __u32 candidates = 0;
  for (int i = 0; i < CPLB_MAX_WORKERS; i++)
    if (sessions[i] <= limit) candidates++;
  __u32 k = hash % candidates;
  for (int i = 0; i < CPLB_MAX_WORKERS; i++)
    if (sessions[i] <= limit) {
      if (k == 0) return i;
      k--;
    }
  return -1;
}

#endif
