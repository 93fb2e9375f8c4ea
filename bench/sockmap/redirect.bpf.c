/* sk_skb stream verdict program of bench/sockmap: every segment a session's socket receives is
 * sent out of its peer socket from inside the kernel (bpf_sk_redirect_hash, egress), so the
 * payload never reaches user space. `peer_of` maps a socket's cookie to its peer's key in
 * `sessions`; `redirected` counts the bytes, as cplb's byte counters would have to. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u64);
} sessions SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u64);
  __type(value, __u32);
} peer_of SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} redirected SEC(".maps");

SEC("sk_skb/stream_verdict")
int redirect_to_peer(struct __sk_buff *skb) {
  __u64 cookie = bpf_get_socket_cookie(skb);
  __u32 *peer = bpf_map_lookup_elem(&peer_of, &cookie);
  if (!peer) return SK_PASS;
  __u32 zero = 0;
  __u64 *bytes = bpf_map_lookup_elem(&redirected, &zero);
  if (bytes) __sync_fetch_and_add(bytes, skb->len);
  return bpf_sk_redirect_hash(skb, &sessions, peer, 0);
}

char LICENSE[] SEC("license") = "GPL";
