/* The per-leg state of bench/sockmap/credit.bpf.c, shared with semantics.cpp, which writes it. */
#pragma once
#include <linux/types.h>

struct leg_state {
  __u32 peer;       /* the peer socket's key in `socks` */
  __u32 pass;       /* 1: leave every segment on this socket */
  __u64 credit;     /* redirect while `redirected` stays within this */
  __u64 redirected; /* bytes sent on to the peer */
  __u64 passed;     /* bytes left on this socket */
};
