/* Whether an sk_skb verdict program may read its socket's TCP state (bpf_tcp_sock): with it,
 * the program could compare its redirected bytes with the peer's acknowledged ones itself.
 * bench/sockmap/semantics only tries to load it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("sk_skb/stream_verdict")
int reads_tcp_state(struct __sk_buff *skb) {
  struct bpf_sock *sk = skb->sk;
  if (!sk) return SK_PASS;
  struct bpf_tcp_sock *tp = bpf_tcp_sock(sk);
  if (tp && tp->bytes_acked > 0) return SK_PASS;
  return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
