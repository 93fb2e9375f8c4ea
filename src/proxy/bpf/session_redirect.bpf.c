/* The sockmap data path's stream verdict program: moves a session's bytes from one leg's socket
 * to the other's inside the kernel, within a credit (see session_redirect.h). */
#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "session_redirect.h"

/* The kernel's types, as far as the program reads them (CO-RE: libbpf places the fields by the
 * running kernel's BTF). A TCP segment's sequence number leads its control block. */
struct sk_buff {
  char cb[48];
  struct sock *sk;  /* a TCP socket's is its tcp_sock */
} __attribute__((preserve_access_index));

struct tcp_sock {
  __u32 copied_seq;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym;

/* Sized by user space before load (sockmap_path.cpp). */
struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} socks SEC(".maps");

/* Socket cookie -> its slot. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 2);
  __type(key, __u64);
  __type(value, __u32);
} slots SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct cplb_leg);
} legs SEC(".maps");

SEC("sk_skb/stream_verdict")
int redirect_within_credit(struct __sk_buff *skb) {
  /* A segment with no data is a bare FIN, which TCP has applied to the socket already: dropped
   * here, as the kernel takes an empty segment for a broken pipe wherever it goes (redirected,
   * or left on a socket whose queue holds redirected ones) and stops the peer's sending. */
  if (skb->len == 0) return SK_DROP;
  __u64 cookie = bpf_get_socket_cookie(skb);
  __u32 *slot = bpf_map_lookup_elem(&slots, &cookie);
  if (!slot) return SK_PASS;
  __u32 self = *slot;
  struct cplb_leg *leg = bpf_map_lookup_elem(&legs, &self);
  if (!leg) return SK_PASS;
  /* Bytes of this segment that TCP delivered before, judged then: passed on with the rest, and
   * dropped by user space. The first segment a leg judges starts where user space read up to. */
  struct sk_buff *kernel_skb = bpf_cast_to_kern_ctx(skb);
  __u32 seq = 0;
  bpf_core_read(&seq, sizeof seq, &kernel_skb->cb);
  __u32 known = (__u32)leg->next_seq;
  if (!leg->next_seq) {
    struct tcp_sock *tp = (struct tcp_sock *)BPF_CORE_READ(kernel_skb, sk);
    if (!tp || bpf_core_read(&known, sizeof known, &tp->copied_seq) != 0) known = seq;
  }
  __u32 end = seq + skb->len;
  __s32 seen = (__s32)(known - seq);
  if ((__s32)(end - known) > 0) leg->next_seq = CPLB_SEQ_KNOWN | end;
  if (seen > 0) {
    __u64 posted = leg->repeats;
    if (posted - *(volatile __u64 *)&leg->repeats_done >= CPLB_REPEAT_SLOTS) {
      leg->overflowed = 1;
    } else {
      struct cplb_repeat *r = &leg->repeat[posted % CPLB_REPEAT_SLOTS];
      r->at = leg->passed;
      r->bytes = (__u32)seen < skb->len ? (__u32)seen : skb->len;
      *(volatile __u64 *)&leg->repeats = posted + 1;  /* after the slot: user space reads it then */
    }
    leg->passed += skb->len;
    return SK_PASS;
  }
  __u64 redirected = leg->redirected;
  if (leg->passed != *(volatile __u64 *)&leg->consumed ||
      redirected + skb->len > *(volatile __u64 *)&leg->credit) {
    leg->passed += skb->len;
    return SK_PASS;
  }
  /* Counted before the redirect, so a session that sees a segment passed after this one also
   * sees this one counted. */
  *(volatile __u64 *)&leg->redirected = redirected + skb->len;
  __u32 peer = self ^ 1;
  return bpf_sk_redirect_hash(skb, &socks, &peer, 0);
}

char LICENSE[] SEC("license") = "GPL";
