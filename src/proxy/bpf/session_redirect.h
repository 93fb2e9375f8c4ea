/* The per-leg state the sockmap data path shares between a session and the stream verdict
 * program of session_redirect.bpf.c. Plain C, shared by both.
 *
 * A session on the sockmap path has a pair of slots, 2k for its client leg and 2k+1 for its
 * upstream leg; each leg's socket is in `socks` under its slot and the peer of slot s is s ^ 1.
 * Each field has one writer, so neither side ever overwrites what the other counts: the session
 * writes `credit` and `consumed` (through the mmapped array), the program `redirected` and
 * `passed` (under the receiving socket's lock, so one program run at a time per leg).
 *
 * A segment is redirected to the peer while every byte left on this socket so far has been read
 * and passed on by user space (`passed == consumed`, so no redirected byte overtakes one still in
 * user space) and the redirected bytes stay within `credit`. Otherwise it is left on the socket
 * (SK_PASS), where user space reads it as on the epoll path. */
#ifndef CPLB_SESSION_REDIRECT_H
#define CPLB_SESSION_REDIRECT_H

#include <linux/types.h>

struct cplb_leg {
  __u64 credit;     /* redirect while `redirected` stays within this (the session raises it) */
  __u64 consumed;   /* bytes left on the socket that user space has passed on (the session's) */
  __u64 redirected; /* bytes sent on to the peer in the kernel (the program's) */
  __u64 passed;     /* bytes left on the socket for user space (the program's) */
};

#endif
