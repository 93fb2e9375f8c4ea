// Valid configs: every value lands in its field, and what is left out takes the contract default.
#include <catch2/catch.hpp>

#include "temp_dir.hpp"

namespace cplb::config::test {
namespace {

using namespace std::chrono_literals;

config load_ok(const std::string& yaml, const std::string& file = "test.yaml") {
  auto result = load_string(yaml, file);
  auto* problems = std::get_if<std::vector<problem>>(&result);
  INFO(describe(problems ? *problems : std::vector<problem>{}));
  REQUIRE(std::holds_alternative<config>(result));
  return std::get<config>(result);
}

socket_address address(const char* text) { return *socket_address::parse(text); }

}  // namespace

TEST_CASE("a minimal config takes the defaults of the contract") {
  config c = load_ok(R"(frontends:
  - {name: kube-apiserver, backend: control-plane}
backends:
  - name: control-plane
    servers: [{name: master-1, address: 10.0.0.11:6443}]
)");
  CHECK(c.file == "test.yaml");
  CHECK(c.global.workers == 0);
  CHECK(c.global.max_connections == 50000);
  CHECK(c.global.shutdown_grace == 30s);
  CHECK(c.admin.listen == address("127.0.0.1:9100"));

  REQUIRE(c.frontends.size() == 1);
  const frontend_config& f = c.frontends[0];
  CHECK(f.name == "kube-apiserver");
  CHECK(f.listen == address("0.0.0.0:6443"));
  CHECK(f.backend == "control-plane");
  CHECK(f.connect_timeout == 3s);
  CHECK(f.idle_timeout == 1h);
  CHECK(f.retries == 2);
  CHECK(f.tcp_keepalive == 30s);
  CHECK(f.tcp_user_timeout == 30s);
  CHECK(f.first_data_timeout == 10s);
  CHECK(f.max_connections_per_source == 0);

  REQUIRE(c.backends.size() == 1);
  const backend_config& b = c.backends[0];
  CHECK(b.balance == balance_algorithm::least_conn);
  CHECK(b.on_server_down == on_server_down_policy::drain);
  CHECK(b.drain.grace == 15s);
  CHECK(b.drain.spread == 30s);
  CHECK(b.drain.not_ready_grace == 90s);
  CHECK(b.all_down == all_down_policy::any_reachable);
  CHECK(b.slow_start == 0s);
  CHECK(b.rebalance.threshold == 1.25);
  CHECK(b.rebalance.spread == 60s);
  CHECK(b.rebalance.quiet == 5s);
  REQUIRE(b.servers.size() == 1);
  CHECK(b.servers[0].weight == 1);

  const health_check_config& h = b.health_check;
  CHECK(h.protocol == check_protocol::https);
  CHECK(h.path == "/readyz");
  CHECK(h.port == 0);
  CHECK(h.interval == 2s);
  CHECK(h.timeout == 1s);
  CHECK(h.fast_interval == 250ms);
  CHECK(h.rise == 2);
  CHECK(h.fall == 2);
  CHECK(h.expect_status == std::vector<unsigned>{200});
  CHECK(h.headers.empty());
  CHECK(h.bearer_token_file.empty());
  CHECK(h.tls == tls_config{});
  CHECK_FALSE(h.tls.insecure_skip_verify);
  CHECK(c.vrrp_instances.empty());
  CHECK(c.find_backend("control-plane") == &b);
  CHECK(c.find_backend("other") == nullptr);
}

TEST_CASE("VRRP virtual IPs and unicast peers may be IPv6, or both families") {
  config c = load_ok(R"(frontends: [{name: fe, backend: be}]
backends: [{name: be, servers: [{name: s1, address: 10.0.0.1:6443}]}]
vrrp_instances:
  - {name: VI_6, interface: eth0, virtual_router_id: 51, virtual_ips: ['2001:db8::100/64', '2001:db8::101'],
     unicast_peers: ['fe80::2', 'fe80::3']}
  - {name: VI_46, interface: eth1, virtual_router_id: 52, virtual_ips: [10.0.0.100/24, '2001:db8::200/64'],
     unicast_peers: [10.0.0.2, 'fe80::2']}
)");
  REQUIRE(c.vrrp_instances.size() == 2);
  const auto& v6 = c.vrrp_instances[0];
  REQUIRE(v6.virtual_ips.size() == 2);
  CHECK(v6.virtual_ips[0] == ip_cidr{*ip_address::parse("2001:db8::100"), 64, "2001:db8::100/64"});
  CHECK(v6.virtual_ips[1] == ip_cidr{*ip_address::parse("2001:db8::101"), 128, "2001:db8::101"});
  CHECK(v6.unicast_peers == std::vector<ip_address>{*ip_address::parse("fe80::2"), *ip_address::parse("fe80::3")});
  const auto& dual = c.vrrp_instances[1];
  REQUIRE(dual.virtual_ips.size() == 2);
  CHECK(dual.virtual_ips[0].address.is_v4());
  CHECK(dual.virtual_ips[1].address.is_v6());
}

TEST_CASE("VRRP defaults follow the contract") {
  config c = load_ok(R"(frontends: [{name: fe, backend: be}]
backends: [{name: be, servers: [{name: s1, address: 10.0.0.1:6443}]}]
vrrp_instances: [{name: VI_1, interface: eth0, virtual_router_id: 51, virtual_ips: [10.0.0.100]}]
)");
  REQUIRE(c.vrrp_instances.size() == 1);
  const vrrp_instance_config& v = c.vrrp_instances[0];
  CHECK(v.priority == 100);
  CHECK(v.advert_interval == 1s);
  CHECK(v.version == 3);
  CHECK(v.preempt);
  CHECK(v.unicast_peers.empty());
  CHECK(v.unicast_ttl_check);
  CHECK(v.track_backends.empty());
  CHECK(v.track_penalty == 50);
  CHECK(v.garp == garp_config{5, 200ms, 0s});
  REQUIRE(v.virtual_ips.size() == 1);
  CHECK(v.virtual_ips[0] == ip_cidr{ip_address::v4(0x0a000064), 32, "10.0.0.100"});
}

TEST_CASE("empty sections take their defaults") {
  config c = load_ok(R"(global:
admin: {}
frontends:
  - name: fe
    backend: be
backends:
  - name: be
    drain:
    servers: [{name: s1, address: 10.0.0.1:6443}]
    health_check:
vrrp_instances:
)");
  CHECK(c.global == global_config{});
  CHECK(c.admin == admin_config{});
  CHECK(c.backends[0].health_check == health_check_config{});
  CHECK(c.backends[0].drain == drain_config{});
  CHECK(c.vrrp_instances.empty());
}

TEST_CASE("a full config lands every value in its field") {
  temp_dir dir;
  std::string ca = dir.write("ca.crt", "x\n");
  std::string cert = dir.write("client.crt", "x\n");
  std::string key = dir.write("client.key", "x\n");
  std::string token = dir.write("token", "x\n");
  config c = load_ok(replace_all(R"(global:
  workers: 4
  max_connections: 1000
  shutdown_grace: 0s
  max_buffer_memory: 32MiB
  data_path: epoll
admin:
  listen: "[::1]:9200"
frontends:
  - name: kube-apiserver
    listen: 10.0.0.100:6443
    backend: control-plane
    connect_timeout: 250ms
    idle_timeout: 2m
    retries: 0
    tcp_keepalive: 0s
    tcp_user_timeout: 1500ms
  - name: other
    listen: "[::]:7443"
    backend: etcd
    first_data_timeout: 0s
    max_connections_per_source: 20
backends:
  - name: control-plane
    balance: source_hash
    on_server_down: close
    drain: {grace: 1s, spread: 0s, not_ready_grace: 20s}
    all_down: reject
    slow_start: 30s
    rebalance: {threshold: 1.5, spread: 2m, quiet: 0s}
    servers:
      - {name: master-1, address: 10.0.0.11:6443, weight: 256}
      - {name: master-2, address: "[fd00::12]:6443"}
    health_check:
      protocol: https
      path: /livez?verbose
      port: 6444
      interval: 5s
      timeout: 10s
      fast_interval: 1s
      rise: 3
      fall: 1
      expect_status: [200, 204]
      headers: {X-Probe: cplb, Accept: application/json}
      bearer_token_file: @DIR@/token
      tls:
        ca_file: @DIR@/ca.crt
        cert_file: @DIR@/client.crt
        key_file: @DIR@/client.key
        server_name: kubernetes.default.svc
        insecure_skip_verify: yes
  - name: etcd
    balance: round_robin
    on_server_down: keep
    servers: [{name: etcd-1, address: 10.0.0.21:2379}]
    health_check: {protocol: tcp}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 255
    priority: 254
    advert_interval: 40950ms
    version: 3
    preempt: false
    unicast_peers: [10.0.0.22, 10.0.0.23]
    unicast_ttl_check: false
    virtual_ips: [10.0.0.100/24, 192.168.1.1/32]
    track_backends: [control-plane, etcd]
    track_penalty: 0
    garp: {count: 0, interval: 1s, refresh: 1m}
  - name: VI_2
    interface: eth0
    virtual_router_id: 52
    priority: 1
    advert_interval: 255s
    version: 2
    virtual_ips: [10.0.0.101/24]
)",
                                 "@DIR@", dir.path()));

  CHECK(c.global == global_config{4, 1000, 0s, 32ull << 20, data_path::epoll});
  CHECK(c.admin.listen == address("[::1]:9200"));

  REQUIRE(c.frontends.size() == 2);
  CHECK(c.frontends[0] == frontend_config{"kube-apiserver", address("10.0.0.100:6443"),
                                          "control-plane", 250ms, 2min, 0, 0s, 1500ms});
  CHECK(c.frontends[1].listen == address("[::]:7443"));
  CHECK(c.frontends[1].first_data_timeout == 0s);
  CHECK(c.frontends[1].max_connections_per_source == 20);

  REQUIRE(c.backends.size() == 2);
  const backend_config& b = c.backends[0];
  CHECK(b.name == "control-plane");
  CHECK(b.balance == balance_algorithm::source_hash);
  CHECK(b.on_server_down == on_server_down_policy::close);
  CHECK(b.drain == drain_config{1s, 0s, 20s});
  CHECK(b.all_down == all_down_policy::reject);
  CHECK(b.slow_start == 30s);
  CHECK(b.rebalance == rebalance_config{1.5, 2min, 0s});
  REQUIRE(b.servers.size() == 2);
  CHECK(b.servers[0] == server_config{"master-1", address("10.0.0.11:6443"), "10.0.0.11", 256});
  CHECK(b.servers[1] == server_config{"master-2", address("[fd00::12]:6443"), "fd00::12", 1});

  const health_check_config& h = b.health_check;
  CHECK(h.protocol == check_protocol::https);
  CHECK(h.path == "/livez?verbose");
  CHECK(h.port == 6444);
  CHECK(h.interval == 5s);
  CHECK(h.timeout == 10s);  // may exceed the interval: probes never overlap
  CHECK(h.fast_interval == 1s);
  CHECK(h.rise == 3);
  CHECK(h.fall == 1);
  CHECK(h.expect_status == std::vector<unsigned>{200, 204});
  CHECK(h.headers ==
        std::map<std::string, std::string>{{"X-Probe", "cplb"}, {"Accept", "application/json"}});
  CHECK(h.bearer_token_file == token);
  CHECK(h.tls == tls_config{ca, cert, key, "kubernetes.default.svc", true});

  CHECK(c.backends[1].balance == balance_algorithm::round_robin);
  CHECK(c.backends[1].on_server_down == on_server_down_policy::keep);
  CHECK(c.backends[1].health_check.protocol == check_protocol::tcp);

  REQUIRE(c.vrrp_instances.size() == 2);
  const vrrp_instance_config& v = c.vrrp_instances[0];
  CHECK(v.name == "VI_1");
  CHECK(v.interface == "eth0");
  CHECK(v.virtual_router_id == 255);
  CHECK(v.priority == 254);
  CHECK(v.advert_interval == 40950ms);
  CHECK(v.version == 3);
  CHECK_FALSE(v.preempt);
  CHECK(v.unicast_peers == std::vector<ip_address>{ip_address::v4(0x0a000016), ip_address::v4(0x0a000017)});
  CHECK_FALSE(v.unicast_ttl_check);
  CHECK(v.virtual_ips == std::vector<ip_cidr>{{ip_address::v4(0x0a000064), 24, "10.0.0.100/24"},
                                              {ip_address::v4(0xc0a80101), 32, "192.168.1.1/32"}});
  CHECK(v.track_backends == std::vector<std::string>{"control-plane", "etcd"});
  CHECK(v.track_penalty == 0);
  CHECK(v.garp == garp_config{0, 1s, 1min});
  CHECK(c.vrrp_instances[1].version == 2);
  CHECK(c.vrrp_instances[1].advert_interval == 255s);
  CHECK(c.vrrp_instances[1].priority == 1);
}

TEST_CASE("relative file names are relative to the config file") {
  temp_dir dir;
  std::string ca = dir.write("ca.crt", "x\n");
  std::string file = dir.write("cplb.yaml", R"(frontends: [{name: fe, backend: be}]
backends:
  - name: be
    servers: [{name: s1, address: 10.0.0.1:6443}]
    health_check: {tls: {ca_file: ca.crt}}
)");
  auto result = load_file(file);
  REQUIRE(std::holds_alternative<config>(result));
  CHECK(std::get<config>(result).backends[0].health_check.tls.ca_file == ca);
  CHECK(std::get<config>(result).file == file);
}

TEST_CASE("the enums print as written in YAML") {
  CHECK(std::string(to_string(balance_algorithm::random_two)) == "random_two");
  CHECK(std::string(to_string(on_server_down_policy::drain)) == "drain");
  CHECK(std::string(to_string(all_down_policy::any_reachable)) == "any_reachable");
  CHECK(std::string(to_string(check_protocol::http)) == "http");
}

}  // namespace cplb::config::test
