// Broken configs: each must give exactly one problem, at the right place, saying what is wrong.
#include <catch2/catch.hpp>

#include "temp_dir.hpp"

namespace cplb::config::test {
namespace {

/// A valid backends section, three lines, for cases about frontends.
const std::string backend_section = R"(backends:
  - name: be
    servers: [{name: s1, address: 10.0.0.1:6443}]
)";

/// A valid frontends + backends section, five lines, for cases about other sections.
const std::string tail = "frontends:\n  - {name: fe, backend: be}\n" + backend_section;

/// `tail` and a valid VRRP instance (lines 6-10); a case adds line 11 or replaces one.
const std::string vrrp = tail + R"(vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ips: [10.0.0.100/24]
)";

/// A backend with one server, whose health_check (line 6) a case completes from line 7.
const std::string check = R"(frontends:
  - {name: fe, backend: be}
backends:
  - name: be
    servers: [{name: s1, address: 10.0.0.1:6443}]
    health_check:
)";

/// `frontends` and the start of a backend (lines 1-4) whose servers a case writes from line 5.
const std::string servers = R"(frontends:
  - {name: fe, backend: be}
backends:
  - name: be
)";

/// A broken config and the one problem it must give. `@DIR@` is a temp dir holding the
/// readable files ca.crt, client.crt, client.key and token.
struct broken {
  std::string name;
  std::string yaml;
  int line;
  int column;
  std::string key_path;
  std::string message;  ///< a fragment of the message
};

std::string many_servers(int n) {
  std::string s = servers + "    servers:\n";
  for (int i = 0; i < n; ++i)
    s += "      - {name: s" + std::to_string(i) + ", address: 10.0.1." + std::to_string(i) +
         ":6443}\n";
  return s;
}

const std::vector<broken> cases = {
    // YAML itself
    {"syntax error", "frontends: [a, b\nbackends: []\n", 2, 9, "",
     "invalid YAML: end of sequence flow not found"},
    {"tab indentation", "global:\n\tworkers: 1\n", 2, 9, "",
     "invalid YAML: illegal map value (YAML does not allow tabs for indentation)"},
    {"top level is a list", "- a\n- b\n", 1, 1, "", "expected a map (with keys global, admin"},
    {"duplicate key", "global:\n  workers: 1\n  workers: 2\n" + tail, 3, 3, "global.workers",
     "duplicate key (first at line 2)"},

    // unknown keys
    {"unknown top-level key", tail + "backend: x\n", 6, 1, "backend",
     "unknown key 'backend', did you mean 'backends'? (valid: global, admin, frontends, "
     "backends, vrrp_instances, anycast)"},
    {"misspelt frontend key",
     "frontends:\n  - name: fe\n    backend: be\n    conect_timeout: 3s\n" + backend_section, 4, 5,
     "frontends[0].conect_timeout",
     "unknown key 'conect_timeout', did you mean 'connect_timeout'?"},
    {"unknown server key",
     servers + "    servers:\n      - {name: s1, address: 10.0.0.1:6443, port: 1}\n", 6, 44,
     "backends[0].servers[0].port", "unknown key 'port' (valid: name, address, weight)"},
    {"unknown tls key", check + "      tls: {ca: x}\n", 7, 13, "backends[0].health_check.tls.ca",
     "unknown key 'ca'"},

    // wrong types
    {"list for a number", "global:\n  workers: [1]\n" + tail, 2, 12, "global.workers",
     "expected a whole number, found a list"},
    {"number for a map", "global: 5\n" + tail, 1, 9, "global",
     "expected a map (with keys workers, max_connections, shutdown_grace, max_buffer_memory, "
     "data_path), found '5'"},
    {"unknown data path", "global:\n  data_path: xdp\n" + tail, 2, 14, "global.data_path",
     "unknown data path 'xdp' (valid: auto | sockmap | epoll)"},
    {"text for a list", servers + "    servers: abc\n", 5, 14, "backends[0].servers",
     "expected a list, found 'abc'"},
    {"text for a server", servers + "    servers: [s1]\n", 5, 15, "backends[0].servers[0]",
     "expected a map (with keys name, address, weight), found 's1'"},
    {"no value", "admin:\n  listen:\n" + tail, 2, 3, "admin.listen",
     "has no value (expected an address like 10.0.0.1:6443)"},
    {"text for a boolean", check + "      tls: {insecure_skip_verify: maybe}\n", 7, 35,
     "backends[0].health_check.tls.insecure_skip_verify", "'maybe' is not true or false"},
    {"empty list entry",
     servers + "    servers:\n      - {name: s1, address: 10.0.0.1:6443}\n      -\n", 6, 7,
     "backends[0].servers[1]", "is an empty entry"},
    {"merge key",
     servers + "    servers:\n      - {<<: {weight: 2}, name: s1, address: 10.0.0.1:1}\n", 6, 10,
     "backends[0].servers[0].<<", "merge keys (<<) are not supported"},
    {"text for a number", "global:\n  workers: many\n" + tail, 2, 12, "global.workers",
     "'many' is not a whole number"},

    // global
    {"max_connections 0", "global:\n  max_connections: 0\n" + tail, 2, 20, "global.max_connections",
     "0 is out of range (1-10000000)"},
    {"too many workers", "global:\n  workers: 2000\n" + tail, 2, 12, "global.workers",
     "2000 is out of range (0-1024)"},
    {"duration without unit", "global:\n  shutdown_grace: 30\n" + tail, 2, 19,
     "global.shutdown_grace", "'30' is not a duration (write a whole number and a unit"},
    {"negative duration", "global:\n  shutdown_grace: -1s\n" + tail, 2, 19, "global.shutdown_grace",
     "'-1s' is not a duration"},

    // addresses
    {"port out of range", "admin:\n  listen: 127.0.0.1:70000\n" + tail, 2, 11, "admin.listen",
     "port 70000 is out of range (1-65535)"},
    {"port 0", servers + "    servers: [{name: s1, address: 10.0.0.1:0}]\n", 5, 35,
     "backends[0].servers[0].address", "port 0 is out of range (1-65535)"},
    {"host name", servers + "    servers: [{name: s1, address: master-1:6443}]\n", 5, 35,
     "backends[0].servers[0].address",
     "'master-1' is not an IP address (cplb does not resolve host names)"},
    {"IPv6 without brackets", "admin:\n  listen: ::1:9100\n" + tail, 2, 11, "admin.listen",
     "an IPv6 address needs brackets, as in [::1]:6443"},
    {"no port", "admin:\n  listen: 127.0.0.1\n" + tail, 2, 11, "admin.listen",
     "'127.0.0.1' has no port"},
    {"IPv4 in brackets", "admin:\n  listen: '[127.0.0.1]:9100'\n" + tail, 2, 11, "admin.listen",
     "brackets are only for IPv6 addresses"},

    // frontends
    {"missing backend",
     "frontends:\n  - {name: fe, backend: nope}\nbackends:\n  - name: be\n    servers: [{name: "
     "s1, address: 10.0.0.1:6443}]\n",
     2, 25, "frontends[0].backend", "backend 'nope' is not defined (defined: be)"},
    {"duplicate frontend name",
     "frontends:\n  - {name: fe, backend: be}\n  - {name: fe, listen: 0.0.0.0:8443, backend: "
     "be}\n" +
         backend_section,
     3, 12, "frontends[1].name", "duplicate frontend name 'fe' (first at line 2)"},
    {"duplicate listen address",
     "frontends:\n  - {name: fe, backend: be}\n  - {name: fe2, backend: be}\n" + backend_section, 3,
     5, "frontends[1].listen",
     "duplicate listen address 0.0.0.0:6443 of frontends[0].listen "
     "(line 2)"},
    {"overlapping listen address",
     "frontends:\n  - {name: fe, backend: be}\n  - {name: fe2, listen: 10.0.0.5:6443, backend: "
     "be}\n" +
         backend_section,
     3, 25, "frontends[1].listen", "10.0.0.5:6443 overlaps 0.0.0.0:6443 of frontends[0].listen"},
    {"admin on a frontend's address", "admin:\n  listen: 0.0.0.0:6443\n" + tail, 4, 5,
     "frontends[0].listen", "duplicate listen address 0.0.0.0:6443 of admin.listen (line 2)"},
    {"missing name", "frontends:\n  - {backend: be}\n" + backend_section, 2, 5, "frontends[0].name",
     "is required"},
    {"bad name", "frontends:\n  - {name: my fe, backend: be}\n" + backend_section, 2, 12,
     "frontends[0].name", "'my fe' is not a valid name"},
    {"connect_timeout 0",
     "frontends:\n  - {name: fe, backend: be, connect_timeout: 0s}\n" + backend_section, 2, 46,
     "frontends[0].connect_timeout", "0s must be greater than 0"},
    {"bad duration unit",
     "frontends:\n  - {name: fe, backend: be, idle_timeout: 1d}\n" + backend_section, 2, 43,
     "frontends[0].idle_timeout", "'1d' is not a duration"},
    {"duration that would overflow a deadline",
     "frontends:\n  - {name: fe, backend: be, idle_timeout: 3000000h}\n" + backend_section, 2, 43,
     "frontends[0].idle_timeout", "3000000h is too long (at most 87600h)"},
    {"negative retries", "frontends:\n  - {name: fe, backend: be, retries: -1}\n" + backend_section,
     2, 38, "frontends[0].retries", "-1 is out of range (0-63)"},
    {"keepalive in milliseconds",
     "frontends:\n  - {name: fe, backend: be, tcp_keepalive: 1500ms}\n" + backend_section, 2, 44,
     "frontends[0].tcp_keepalive", "must be whole seconds"},
    {"no frontends",
     "frontends: []\nbackends:\n  - name: be\n    servers: [{name: s1, address: "
     "10.0.0.1:6443}]\n",
     1, 12, "frontends", "at least one frontend is required"},

    // backends and servers
    {"empty server list", servers + "    servers: []\n", 5, 14, "backends[0].servers",
     "at least one server is required"},
    {"no server list", servers, 4, 5, "backends[0].servers", "is required"},
    {"65 servers", many_servers(65), 6, 7, "backends[0].servers",
     "has 65 servers; at most 64 are allowed"},
    {"weight 0", servers + "    servers: [{name: s1, address: 10.0.0.1:6443, weight: 0}]\n", 5, 58,
     "backends[0].servers[0].weight", "0 is out of range (1-256)"},
    {"weight 257", servers + "    servers: [{name: s1, address: 10.0.0.1:6443, weight: 257}]\n", 5,
     58, "backends[0].servers[0].weight", "257 is out of range (1-256)"},
    {"server without address", servers + "    servers: [{name: s1}]\n", 5, 15,
     "backends[0].servers[0].address", "is required"},
    {"duplicate server name",
     servers + "    servers:\n      - {name: s1, address: 10.0.0.1:6443}\n      - {name: s1, "
               "address: 10.0.0.2:6443}\n",
     7, 16, "backends[0].servers[1].name", "duplicate server name 's1' (first at line 6)"},
    {"duplicate server address",
     servers + "    servers:\n      - {name: s1, address: 10.0.0.1:6443}\n      - {name: s2, "
               "address: 10.0.0.1:6443}\n",
     7, 29, "backends[0].servers[1].address",
     "duplicate server address 10.0.0.1:6443 (first at line 6)"},
    {"duplicate backend name",
     tail + "  - name: be\n    servers: [{name: s1, address: 10.0.0.1:6443}]\n", 6, 11,
     "backends[1].name", "duplicate backend name 'be' (first at line 4)"},
    {"unknown balance",
     servers + "    balance: fastest\n    servers: [{name: s1, address: "
               "10.0.0.1:6443}]\n",
     5, 14, "backends[0].balance",
     "unknown balance 'fastest' (valid: round_robin | least_conn | random_two | source_hash)"},
    {"unknown on_server_down",
     servers + "    on_server_down: drop\n    servers: [{name: s1, "
               "address: 10.0.0.1:6443}]\n",
     5, 21, "backends[0].on_server_down",
     "unknown on_server_down policy 'drop' (valid: keep | close | drain)"},
    {"unknown all_down",
     servers + "    all_down: accept\n    servers: [{name: s1, address: "
               "10.0.0.1:6443}]\n",
     5, 15, "backends[0].all_down",
     "unknown all_down policy 'accept' (valid: reject | any_reachable)"},
    {"negative drain grace",
     servers + "    drain: {grace: -1s}\n    servers: [{name: s1, "
               "address: 10.0.0.1:6443}]\n",
     5, 20, "backends[0].drain.grace", "'-1s' is not a duration"},
    {"rebalance threshold of 1",
     servers + "    rebalance: {threshold: 1}\n    servers: [{name: s1, "
               "address: 10.0.0.1:6443}]\n",
     5, 28, "backends[0].rebalance.threshold", "must be above 1"},
    {"rebalance threshold not a number",
     servers + "    rebalance: {threshold: lots}\n    servers: [{name: s1, "
               "address: 10.0.0.1:6443}]\n",
     5, 28, "backends[0].rebalance.threshold", "'lots' is not a number"},
    {"rebalance spread 0",
     servers + "    rebalance: {spread: 0s}\n    servers: [{name: s1, "
               "address: 10.0.0.1:6443}]\n",
     5, 25, "backends[0].rebalance.spread", "0s must be greater than 0"},
    {"negative slow_start",
     servers + "    slow_start: -5s\n    servers: [{name: s1, "
               "address: 10.0.0.1:6443}]\n",
     5, 17, "backends[0].slow_start", "'-5s' is not a duration"},

    // health checks
    {"unknown protocol", check + "      protocol: grpc\n", 7, 17,
     "backends[0].health_check.protocol", "unknown protocol 'grpc' (valid: https | http | tcp)"},
    {"expect_status 99", check + "      expect_status: [99]\n", 7, 23,
     "backends[0].health_check.expect_status[0]", "99 is out of range (100-599)"},
    {"expect_status 600", check + "      expect_status: [200, 600]\n", 7, 28,
     "backends[0].health_check.expect_status[1]", "600 is out of range (100-599)"},
    {"expect_status not a list", check + "      expect_status: 200\n", 7, 22,
     "backends[0].health_check.expect_status", "expected a list, found '200'"},
    {"no expect_status", check + "      expect_status: []\n", 7, 22,
     "backends[0].health_check.expect_status", "at least one status is required"},
    {"rise 0", check + "      rise: 0\n", 7, 13, "backends[0].health_check.rise",
     "0 is out of range (1-100)"},
    {"fall 0", check + "      fall: 0\n", 7, 13, "backends[0].health_check.fall",
     "0 is out of range (1-100)"},
    {"fast_interval over interval", check + "      interval: 1s\n      fast_interval: 2s\n", 8, 22,
     "backends[0].health_check.fast_interval", "2s must not exceed interval 1s"},
    {"fast_interval over the default interval", check + "      fast_interval: 3s\n", 7, 22,
     "backends[0].health_check.fast_interval", "3s must not exceed interval 2s"},
    {"relative path", check + "      path: readyz\n", 7, 13, "backends[0].health_check.path",
     "'readyz' must start with '/'"},
    {"path with a space", check + "      path: /ready now\n", 7, 13,
     "backends[0].health_check.path", "must not contain spaces or control characters"},
    {"port out of range", check + "      port: 65536\n", 7, 13, "backends[0].health_check.port",
     "65536 is out of range (0-65535)"},
    {"missing ca_file", check + "      tls: {ca_file: '@DIR@/missing.crt'}\n", 7, 22,
     "backends[0].health_check.tls.ca_file",
     "cannot read '@DIR@/missing.crt': No such file or directory"},
    {"ca_file is a directory", check + "      tls: {ca_file: '@DIR@'}\n", 7, 22,
     "backends[0].health_check.tls.ca_file", "'@DIR@' is not a regular file"},
    {"missing cert_file",
     check + "      tls: {cert_file: '@DIR@/nope.crt', key_file: '@DIR@/client.key'}\n", 7, 24,
     "backends[0].health_check.tls.cert_file", "cannot read '@DIR@/nope.crt'"},
    {"missing key_file",
     check + "      tls: {key_file: '@DIR@/nope.key', cert_file: '@DIR@/client.crt'}\n", 7, 23,
     "backends[0].health_check.tls.key_file", "cannot read '@DIR@/nope.key'"},
    {"cert_file without key_file", check + "      tls: {cert_file: '@DIR@/client.crt'}\n", 7, 24,
     "backends[0].health_check.tls.cert_file", "is set but key_file is not"},
    {"key_file without cert_file", check + "      tls: {key_file: '@DIR@/client.key'}\n", 7, 23,
     "backends[0].health_check.tls.key_file", "is set but cert_file is not"},
    {"missing bearer_token_file", check + "      bearer_token_file: '@DIR@/nope'\n", 7, 26,
     "backends[0].health_check.bearer_token_file", "cannot read '@DIR@/nope'"},
    {"tls with http", check + "      protocol: http\n      tls: {ca_file: '@DIR@/ca.crt'}\n", 8, 12,
     "backends[0].health_check.tls", "applies only to protocol https"},
    {"tls with tcp", check + "      protocol: tcp\n      tls: {}\n", 8, 12,
     "backends[0].health_check.tls", "applies only to protocol https"},
    {"path with tcp", check + "      protocol: tcp\n      path: /readyz\n", 8, 13,
     "backends[0].health_check.path", "applies only to protocol http or https"},
    {"bad header name", check + "      headers: {'X Probe': a}\n", 7, 17,
     "backends[0].health_check.headers", "'X Probe' is not a valid header name"},
    {"header with a line break", check + "      headers: {X-Probe: \"a\\r\\nInjected: b\"}\n", 7,
     26, "backends[0].health_check.headers.X-Probe", "must not contain line breaks"},
    {"authorization with a token file",
     check + "      bearer_token_file: '@DIR@/token'\n      headers: {Authorization: x}\n", 8, 17,
     "backends[0].health_check.headers.Authorization", "conflicts with bearer_token_file"},

    // VRRP
    {"VRID 0", replace_all(vrrp, "virtual_router_id: 51", "virtual_router_id: 0"), 9, 24,
     "vrrp_instances[0].virtual_router_id", "0 is out of range (1-255)"},
    {"VRID 256", replace_all(vrrp, "virtual_router_id: 51", "virtual_router_id: 256"), 9, 24,
     "vrrp_instances[0].virtual_router_id", "256 is out of range (1-255)"},
    {"no VRID", replace_all(vrrp, "    virtual_router_id: 51\n", ""), 7, 5,
     "vrrp_instances[0].virtual_router_id", "is required"},
    {"priority 0", vrrp + "    priority: 0\n", 11, 15, "vrrp_instances[0].priority",
     "0 is out of range (1-254)"},
    {"priority 255", vrrp + "    priority: 255\n", 11, 15, "vrrp_instances[0].priority",
     "255 is out of range (1-254)"},
    {"version 4", vrrp + "    version: 4\n", 11, 14, "vrrp_instances[0].version",
     "unknown version '4' (valid: 2 | 3)"},
    {"v3 interval not in 10ms steps", vrrp + "    advert_interval: 15ms\n", 11, 22,
     "vrrp_instances[0].advert_interval", "15ms must be a multiple of 10ms with version 3"},
    {"v3 interval too long", vrrp + "    advert_interval: 41s\n", 11, 22,
     "vrrp_instances[0].advert_interval", "41s is out of range for version 3 (10ms-40950ms)"},
    {"v2 interval not whole seconds", vrrp + "    version: 2\n    advert_interval: 1500ms\n", 12,
     22, "vrrp_instances[0].advert_interval", "1500ms must be whole seconds with version 2"},
    {"v2 interval too long", vrrp + "    advert_interval: 256s\n    version: 2\n", 11, 22,
     "vrrp_instances[0].advert_interval", "256s is out of range for version 2 (1s-255s)"},
    {"bad CIDR", replace_all(vrrp, "10.0.0.100/24", "10.0.0.300/24"), 10, 19,
     "vrrp_instances[0].virtual_ips[0]", "'10.0.0.300/24' is not an IP address with a prefix length, as in 10.0.0.100/24 or 2001:db8::100/64"},
    {"prefix length 33", replace_all(vrrp, "10.0.0.100/24", "10.0.0.100/33"), 10, 19,
     "vrrp_instances[0].virtual_ips[0]", "'10.0.0.100/33' is not an IP address with a prefix"},
    {"multicast VIP", replace_all(vrrp, "10.0.0.100/24", "224.0.0.18/24"), 10, 19,
     "vrrp_instances[0].virtual_ips[0]", "is not a unicast IPv4 address"},
    {"no VIPs", replace_all(vrrp, "[10.0.0.100/24]", "[]"), 10, 18, "vrrp_instances[0].virtual_ips",
     "at least one virtual IP is required"},
    {"track a missing backend", vrrp + "    track_backends: [nope]\n", 11, 22,
     "vrrp_instances[0].track_backends[0]", "backend 'nope' is not defined (defined: be)"},
    {"IPv6 unicast peer of IPv4 VIPs", vrrp + "    unicast_peers: ['fe80::1']\n", 11, 21,
     "vrrp_instances[0].unicast_peers[0]",
     "is an IPv6 address, but no virtual IP of the instance is: the peers' family must match"},
    {"unicast peer with a port", vrrp + "    unicast_peers: [10.0.0.2:112]\n", 11, 21,
     "vrrp_instances[0].unicast_peers[0]", "'10.0.0.2:112' is not an IP address"},
    {"IPv6 VIP with version 2", replace_all(vrrp, "[10.0.0.100/24]", "['2001:db8::100/64']") + "    version: 2\n",
     10, 19, "vrrp_instances[0].virtual_ips[0]", "is an IPv6 address: IPv6 needs version: 3 (RFC 5798)"},
    {"IPv6 prefix length 129", replace_all(vrrp, "[10.0.0.100/24]", "['2001:db8::100/129']"), 10, 19,
     "vrrp_instances[0].virtual_ips[0]", "'2001:db8::100/129' is not an IP address with a prefix"},
    {"global IPv6 unicast peer", replace_all(vrrp, "[10.0.0.100/24]", "['2001:db8::100/64']") +
         "    unicast_peers: ['2001:db8::12']\n",
     11, 21, "vrrp_instances[0].unicast_peers[0]", "is not link-local: IPv6 adverts come from the peer's"},
    {"multicast IPv6 VIP", replace_all(vrrp, "[10.0.0.100/24]", "['ff02::12']"), 10, 19,
     "vrrp_instances[0].virtual_ips[0]", "is not a unicast IPv6 address"},
    {"dual-stack unicast without an IPv6 peer",
     replace_all(vrrp, "[10.0.0.100/24]", "[10.0.0.100/24, '2001:db8::100/64']") +
         "    unicast_peers: [10.0.0.2]\n",
     11, 20, "vrrp_instances[0].unicast_peers", "has no IPv6 peer for the IPv6 virtual IPs"},
    {"duplicate unicast peer", vrrp + "    unicast_peers: [10.0.0.2, 10.0.0.2]\n", 11, 31,
     "vrrp_instances[0].unicast_peers[1]", "duplicate unicast peer 10.0.0.2 (first at line 11)"},
    {"garp count 101", vrrp + "    garp: {count: 101}\n", 11, 19, "vrrp_instances[0].garp.count",
     "101 is out of range (0-100)"},
    {"garp interval 0", vrrp + "    garp: {interval: 0ms}\n", 11, 22,
     "vrrp_instances[0].garp.interval", "0ms must be greater than 0"},
    {"track_penalty 254", vrrp + "    track_penalty: 254\n", 11, 20,
     "vrrp_instances[0].track_penalty", "254 is out of range (0-253)"},
    {"interface name too long",
     replace_all(vrrp, "interface: eth0", "interface: enp0s31f6.4000vlan"), 8, 16,
     "vrrp_instances[0].interface", "'enp0s31f6.4000vlan' is not a valid interface name"},
    {"duplicate VRID on one interface",
     vrrp + "  - {name: VI_2, interface: eth0, virtual_router_id: 51, virtual_ips: [10.0.0.101]}\n",
     11, 54, "vrrp_instances[1].virtual_router_id",
     "duplicate virtual_router_id 51 on eth0 (first at line 9)"},
    {"duplicate VRRP name",
     vrrp + "  - {name: VI_1, interface: eth1, virtual_router_id: 51, virtual_ips: [10.0.0.101]}\n",
     11, 12, "vrrp_instances[1].name", "duplicate VRRP instance name 'VI_1' (first at line 7)"},
    {"VIP in two instances",
     vrrp +
         "  - {name: VI_2, interface: eth1, virtual_router_id: 52, virtual_ips: [10.0.0.100/32]}\n",
     11, 72, "vrrp_instances[1].virtual_ips[0]",
     "duplicate virtual IP 10.0.0.100 (first at line 10)"},
};

}  // namespace

TEST_CASE("each broken config gives one problem, at its place, saying what is wrong") {
  temp_dir dir;
  for (const char* name : {"ca.crt", "client.crt", "client.key", "token"}) dir.write(name, "x\n");
  REQUIRE(cases.size() >= 30);
  for (const auto& c : cases) {
    auto problems = problems_of(replace_all(c.yaml, "@DIR@", dir.path()));
    std::string expected = replace_all(c.message, "@DIR@", dir.path());
    INFO("case: " << c.name << "\nproblems:\n" << describe(problems));
    REQUIRE(problems.size() == 1);
    const problem& p = problems.front();
    CHECK(p.file == "test.yaml");
    CHECK(p.line == c.line);
    CHECK(p.column == c.column);
    CHECK(p.key_path == c.key_path);
    CHECK_THAT(p.message, Catch::Contains(expected));
  }
}

TEST_CASE("an empty file needs at least one frontend and one backend") {
  for (std::string text : {"", "# nothing but a comment\n", "---\n"}) {
    auto problems = problems_of(text);
    INFO(describe(problems));
    REQUIRE(problems.size() == 2);
    CHECK(problems[0].to_string() == "test.yaml:1:1: frontends: at least one frontend is required");
    CHECK(problems[1].to_string() == "test.yaml:1:1: backends: at least one backend is required");
  }
}

TEST_CASE("every problem of a file is reported, in file order") {
  auto problems = problems_of(R"(global:
  workers: -2
  max_connections: 0
frontends:
  - name: fe
    listen: 0.0.0.0:99999
    backend: missing
    retries: many
backends:
  - name: be
    balance: fastest
    servers:
      - {name: s1, address: 10.0.0.1:6443, weight: 0}
      - {name: s1, address: 10.0.0.2:6443}
    health_check:
      rise: 0
      path: readyz
vrrp_instances:
  - {name: VI_1, interface: eth0, virtual_router_id: 0, virtual_ips: [10.0.0.1/40]}
)");
  std::vector<std::string> expected = {
      "test.yaml:2:12: global.workers: -2 is out of range (0-1024)",
      "test.yaml:3:20: global.max_connections: 0 is out of range (1-10000000)",
      "test.yaml:6:13: frontends[0].listen: port 99999 is out of range (1-65535)",
      "test.yaml:7:14: frontends[0].backend: backend 'missing' is not defined (defined: be)",
      "test.yaml:8:14: frontends[0].retries: 'many' is not a whole number",
      "test.yaml:11:14: backends[0].balance: unknown balance 'fastest' (valid: round_robin | "
      "least_conn | random_two | source_hash)",
      "test.yaml:13:52: backends[0].servers[0].weight: 0 is out of range (1-256)",
      "test.yaml:14:16: backends[0].servers[1].name: duplicate server name 's1' (first at line 13)",
      "test.yaml:16:13: backends[0].health_check.rise: 0 is out of range (1-100)",
      "test.yaml:17:13: backends[0].health_check.path: 'readyz' must start with '/'",
      "test.yaml:19:54: vrrp_instances[0].virtual_router_id: 0 is out of range (1-255)",
      "test.yaml:19:71: vrrp_instances[0].virtual_ips[0]: '10.0.0.1/40' is not an IP address "
      "with a prefix length, as in 10.0.0.100/24 or 2001:db8::100/64",
  };
  std::vector<std::string> got;
  for (const auto& p : problems) got.push_back(p.to_string());
  CHECK(got == expected);
}

}  // namespace cplb::config::test
