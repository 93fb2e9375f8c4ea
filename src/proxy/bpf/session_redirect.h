/* The per-leg state the sockmap data path shares between a session and the stream verdict
 * program of session_redirect.bpf.c. Plain C, shared by both.
 *
 * A session on the sockmap path has a pair of slots, 2k for its client leg and 2k+1 for its
 * upstream leg; each leg's socket is in `socks` under its slot and the peer of slot s is s ^ 1.
 * Each field has one writer, so neither side ever overwrites what the other counts: the session
 * writes `credit`, `consumed`, `repeats_done` and `repeated` (through the mmapped array), the
 * program the rest (under the receiving socket's lock, so one program run at a time per leg).
 *
 * A segment is redirected to the peer while every byte left on this socket so far has been read
 * and passed on by user space (`passed == consumed`, so no redirected byte overtakes one still in
 * user space) and the redirected bytes stay within `credit`. Otherwise it is left on the socket
 * (SK_PASS), where user space reads it as on the epoll path.
 *
 * The kernel gives the program a segment whole even when TCP had delivered its head before (a
 * retransmission that overlaps what arrived): the program leaves such a segment on the socket and
 * posts where in the passed bytes its repeated head lies, and user space drops those bytes. */
#ifndef CPLB_SESSION_REDIRECT_H
#define CPLB_SESSION_REDIRECT_H

#include <linux/types.h>

/* Repeats posted and not yet dropped by user space that a leg can hold; one more resets it. */
#define CPLB_REPEAT_SLOTS 8

struct cplb_repeat {
  __u64 at;    /* offset in the leg's passed bytes of the first repeated byte */
  __u64 bytes; /* how many follow */
};

struct cplb_leg {
  __u64 credit;       /* redirect while `redirected` stays within this (the session raises it) */
  __u64 consumed;     /* bytes left on the socket that user space has passed on or dropped */
  __u64 redirected;   /* bytes sent on to the peer in the kernel (the program's) */
  __u64 passed;       /* bytes left on the socket for user space (the program's) */
  __u64 next_seq;     /* CPLB_SEQ_KNOWN | the TCP sequence past the last byte judged; 0 before */
  __u64 repeats;      /* repeats posted in `repeat` (the program's) */
  __u64 repeats_done; /* of them, those user space has dropped (the session's) */
  __u64 repeated;     /* bytes user space dropped as repeated (the session's) */
  __u64 overflowed;   /* a repeat found `repeat` full (the program's): the session must end */
  struct cplb_repeat repeat[CPLB_REPEAT_SLOTS]; /* repeat k in slot k % CPLB_REPEAT_SLOTS */
};

#define CPLB_SEQ_KNOWN (1ULL << 32)

#endif
