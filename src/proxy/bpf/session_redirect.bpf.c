/* The sockmap data path's stream verdict program: moves a session's bytes from one leg's socket
 * to the other's inside the kernel, within a credit (see session_redirect.h). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "session_redirect.h"

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
