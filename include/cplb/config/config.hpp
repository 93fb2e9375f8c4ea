#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cplb/core/duration.hpp"
#include "cplb/core/ip_address.hpp"
#include "cplb/core/socket_address.hpp"

// The configuration of CONTRACT.md as plain structs, with the contract's defaults. Loading and
// validation live in load.hpp; everything here is already valid once a loader returns it.
namespace cplb::config {

using namespace std::chrono_literals;

/// The most servers a backend may list: a set of them fits one 64-bit mask.
inline constexpr std::size_t max_servers_per_backend = 64;

/// `global.data_path`: how sessions' bytes move. `sockmap` moves bulk sessions inside the
/// kernel (a BPF sockhash); `epoll` keeps every byte in the worker's event loop; `auto` uses
/// sockmap where the kernel and the privileges allow, else epoll.
enum class data_path { automatic, sockmap, epoll };

/// `global:`
struct global_config {
  unsigned workers = 0;                 ///< proxy threads; 0 = one per CPU
  std::size_t max_connections = 50000;  ///< over it a new client connection is closed at once
  duration shutdown_grace = 30s;        ///< how long SIGTERM waits for sessions to finish
  /// All sessions' not-yet-forwarded bytes together; over it, sessions stop reading until their
  /// peers catch up (nothing is dropped).
  std::uint64_t max_buffer_memory = 256ull << 20;
  /// Read at start only. epoll by default until the sockmap path has a longer record (see
  /// docs/design.md, "The sockmap path").
  data_path path = data_path::epoll;
  friend bool operator==(const global_config&, const global_config&) = default;
};

/// `admin:`
struct admin_config {
  socket_address listen = *socket_address::parse("127.0.0.1:9100");  ///< /metrics, /status, /healthz
  friend bool operator==(const admin_config&, const admin_config&) = default;
};

/// One entry of `frontends:`.
struct frontend_config {
  std::string name;
  socket_address listen = *socket_address::parse("0.0.0.0:6443");
  std::string backend;                ///< the name of a backend in `backends:`
  duration connect_timeout = 3s;
  duration idle_timeout = 1h;         ///< a session idle both ways this long is closed
  unsigned retries = 2;               ///< failed connects retried on another healthy server
  duration tcp_keepalive = 30s;       ///< keepalive probes start after this much idle; 0 = off
  duration tcp_user_timeout = 30s;    ///< unacknowledged data this long kills the session; 0 = off
  /// A client that sends nothing this long after connecting is closed, and the upstream connect
  /// waits for its first bytes; 0 = off (connect at once: a server that speaks first).
  duration first_data_timeout = 10s;
  std::size_t max_connections_per_source = 0;  ///< sessions one client IP may hold; 0 = no limit
  friend bool operator==(const frontend_config&, const frontend_config&) = default;
};

/// How a backend chooses a server for a new session.
enum class balance_algorithm { round_robin, least_conn, random_two, source_hash };

/// What happens to a server's sessions when it goes down or is removed.
enum class on_server_down_policy { keep, close, drain };

/// What happens when no server of a backend passes its check.
enum class all_down_policy { reject, any_reachable };

/// The protocol of a health check.
enum class check_protocol { https, http, tcp };

/// One entry of `servers:`.
struct server_config {
  std::string name;
  socket_address address;
  std::string host;        ///< the host as written in `address` (the IP literal), for SNI/Host
  unsigned weight = 1;     ///< 1..256
  friend bool operator==(const server_config&, const server_config&) = default;
};

/// `drain:`
struct drain_config {
  duration grace = 15s;    ///< sessions of a down server go on this long
  duration spread = 30s;   ///< then they are closed spread evenly over this window
  duration not_ready_grace = 90s;  ///< instead of grace while the server is only not_ready
  friend bool operator==(const drain_config&, const drain_config&) = default;
};

/// `health_check.tls:`
struct tls_config {
  std::string ca_file;     ///< empty = the system store
  std::string cert_file;   ///< client certificate (mTLS)
  std::string key_file;
  std::string server_name; ///< SNI and the name verified; empty = the server's host
  bool insecure_skip_verify = false;
  friend bool operator==(const tls_config&, const tls_config&) = default;
};

/// `health_check:`
struct health_check_config {
  check_protocol protocol = check_protocol::https;
  std::string path = "/readyz";
  std::uint16_t port = 0;            ///< 0 = the server's port
  duration interval = 2s;
  duration timeout = 1s;             ///< may equal or exceed interval: probes never overlap
  duration fast_interval = 250ms;    ///< after a result that disagrees with the state; <= interval
  unsigned rise = 2;
  unsigned fall = 2;
  std::vector<unsigned> expect_status{200};
  std::map<std::string, std::string> headers;  ///< extra request headers
  std::string bearer_token_file;     ///< sent as `Authorization: Bearer <token>`
  tls_config tls;
  friend bool operator==(const health_check_config&, const health_check_config&) = default;
};

/// `rebalance:`
struct rebalance_config {
  double threshold = 1.25;  ///< act above this x a server's fair share; 0 = never
  duration spread = 60s;    ///< close the surplus evenly over this window
  duration quiet = 5s;      ///< only sessions whose client sent no request for this long
  friend bool operator==(const rebalance_config&, const rebalance_config&) = default;
};

/// One entry of `backends:`.
struct backend_config {
  std::string name;
  balance_algorithm balance = balance_algorithm::least_conn;
  on_server_down_policy on_server_down = on_server_down_policy::drain;
  drain_config drain;
  all_down_policy all_down = all_down_policy::any_reachable;
  duration slow_start = 0s;            ///< a returning server's share ramps up over this; 0 = off
  rebalance_config rebalance;
  std::vector<server_config> servers;  ///< 1..max_servers_per_backend
  health_check_config health_check;
  friend bool operator==(const backend_config&, const backend_config&) = default;
};

/// An IPv4 or IPv6 address with a prefix length, as in `10.0.0.100/24` or `2001:db8::100/64`.
struct ip_cidr {
  ip_address address;
  unsigned prefix_length = 32;  ///< 1..32 (IPv4) or 1..128 (IPv6); a bare address is a host route
  std::string text;             ///< as written
  friend bool operator==(const ip_cidr&, const ip_cidr&) = default;
};

/// `garp:`
struct garp_config {
  unsigned count = 5;
  duration interval = 200ms;
  duration refresh = 0s;       ///< 0 = no periodic refresh while master
  friend bool operator==(const garp_config&, const garp_config&) = default;
};

/// One entry of `vrrp_instances:`.
struct vrrp_instance_config {
  std::string name;
  std::string interface;
  unsigned virtual_router_id = 0;      ///< 1..255
  unsigned priority = 100;             ///< 1..254
  duration advert_interval = 1s;       ///< 10ms steps with v3; whole seconds with v2
  unsigned version = 3;                ///< 2 or 3
  bool preempt = true;
  std::vector<ip_address> unicast_peers;  ///< of the VIPs' families; empty = multicast
  bool unicast_ttl_check = true;       ///< unicast adverts must arrive with TTL 255 (on-link)
  std::vector<ip_cidr> virtual_ips;     ///< IPv4 and/or IPv6 (version 3), in the order written
  std::vector<std::string> track_backends;
  unsigned track_penalty = 50;
  garp_config garp;
  friend bool operator==(const vrrp_instance_config&, const vrrp_instance_config&) = default;
};

/// One entry of `anycast:`: VIPs announced as host routes in a kernel table while cplb serves them.
struct anycast_config {
  std::string name;
  std::vector<ip_address> virtual_ips;  ///< IPv4 /32 and IPv6 /128, global unicast
  unsigned table = 198;                 ///< the kernel routing table the routes go in
  std::vector<std::string> track_backends;
  duration withdraw_delay = 2s;         ///< SIGTERM: serve this long after withdrawing
  friend bool operator==(const anycast_config&, const anycast_config&) = default;
};

/// The whole configuration, with the file it came from.
struct config {
  std::string file;
  global_config global;
  admin_config admin;
  std::vector<frontend_config> frontends;
  std::vector<backend_config> backends;
  std::vector<vrrp_instance_config> vrrp_instances;
  std::vector<anycast_config> anycast;

  /// The backend called `name`, or nullptr.
  const backend_config* find_backend(const std::string& name) const;
};

/// Names of the enums as written in YAML.
const char* to_string(balance_algorithm v);
const char* to_string(on_server_down_policy v);
const char* to_string(all_down_policy v);
const char* to_string(check_protocol v);

}  // namespace cplb::config
