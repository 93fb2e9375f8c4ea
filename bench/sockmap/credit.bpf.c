/* sk_skb stream verdict program of bench/sockmap/semantics: what a correct in-kernel data path
 * would have to build on. Each socket of a session has a `legs` entry (by socket cookie): the
 * key of its peer in `socks`, and a credit. Segments are redirected to the peer while the
 * bytes redirected stay within the credit; past it, or once user space sets `pass`, they are
 * left on the receiving socket (SK_PASS), where user space reads them as on the epoll path.
 * (A product would keep the fields user space writes apart from those the program counts: a
 * whole-value update from user space races with the program's additions.) */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "credit.h"

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u64);
} socks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u64);
  __type(value, struct leg_state);
} legs SEC(".maps");

SEC("sk_skb/stream_verdict")
int verdict(struct __sk_buff *skb) {
  __u64 cookie = bpf_get_socket_cookie(skb);
  struct leg_state *s = bpf_map_lookup_elem(&legs, &cookie);
  if (!s) return SK_PASS;
  if (!s->pass && s->redirected + skb->len > s->credit) s->pass = 1;
  if (s->pass) {
    __sync_fetch_and_add(&s->passed, skb->len);
    return SK_PASS;
  }
  __sync_fetch_and_add(&s->redirected, skb->len);
  return bpf_sk_redirect_hash(skb, &socks, &s->peer, 0);
}

char LICENSE[] SEC("license") = "GPL";
