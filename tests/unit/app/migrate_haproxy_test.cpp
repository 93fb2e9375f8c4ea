// `cplb migrate` on HAProxy configs: the kubeadm HA guide's, and variants with several
// frontends, default-server lines, checks over TLS and plain HTTP checks.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "migrate_fixture.hpp"

using namespace cplb;
using namespace cplb::app::migrate::test;
using namespace std::chrono_literals;

namespace {

const config::backend_config& backend(const config::config& c, const std::string& name) {
  const auto* b = c.find_backend(name);
  REQUIRE(b);
  return *b;
}

std::vector<std::string> server_names(const config::backend_config& b) {
  std::vector<std::string> out;
  for (const auto& s : b.servers) out.push_back(s.name);
  return out;
}

void check_notes(const std::string& yaml,
                 const std::vector<std::pair<std::string, std::string>>& expected) {
  for (const auto& [what, where] : expected) {
    INFO(what << " (" << where << ")\n" << yaml);
    CHECK(note_for(yaml, what, where));
  }
}

/// The 1-based numbers of the lines of testdata/`name` that hold a directive, with their text.
std::vector<std::pair<int, std::string>> directive_lines(const std::string& name) {
  std::ifstream in(testdata(name));
  std::vector<std::pair<int, std::string>> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line.erase(0, line.find_first_not_of(" \t"));
    if (!line.empty() && line.front() != '#') out.emplace_back(n, line);
  }
  return out;
}

}  // namespace

TEST_CASE("the kubeadm HA guide's haproxy.cfg becomes one frontend and one backend") {
  const std::string yaml = migrated("kubeadm-haproxy.cfg");
  const config::config c = load(yaml);

  REQUIRE(c.frontends.size() == 1);
  const auto& f = c.frontends[0];
  CHECK(f.name == "apiserver");
  CHECK(f.listen.to_string() == "0.0.0.0:8443");
  CHECK(f.backend == "apiserverbackend");
  CHECK(f.connect_timeout == 5s);  // timeout connect, from defaults
  CHECK(f.idle_timeout == 20s);    // timeout client / server, the larger
  CHECK(f.retries == 1);

  const auto& b = backend(c, "apiserverbackend");
  CHECK(b.balance == config::balance_algorithm::round_robin);
  CHECK(server_names(b) == std::vector<std::string>{"master-1", "master-2", "master-3"});
  CHECK(b.servers[1].address.to_string() == "192.168.1.12:6443");
  // The last check option wins in HAProxy: ssl-hello-chk replaces httpchk, a TLS check that
  // verifies nothing.
  const auto& h = b.health_check;
  CHECK(h.protocol == config::check_protocol::https);
  CHECK(h.path == "/readyz");
  CHECK(h.tls.insecure_skip_verify);
  CHECK(h.interval == 2s);  // HAProxy's default inter
  CHECK(h.timeout == 10s);  // timeout check, from defaults
  CHECK(h.fall == 3);       // HAProxy's default fall
  CHECK(h.rise == 2);
}

TEST_CASE("every line of the kubeadm haproxy.cfg is carried over or noted with its line") {
  const std::string yaml = migrated("kubeadm-haproxy.cfg");
  check_notes(yaml, {
                        {"log /dev/log local0", "kubeadm-haproxy.cfg:6"},
                        {"log /dev/log local1 notice", "kubeadm-haproxy.cfg:7"},
                        {"daemon", "kubeadm-haproxy.cfg:8"},
                        {"mode http", "kubeadm-haproxy.cfg:15"},
                        {"log global", "kubeadm-haproxy.cfg:16"},
                        {"option httplog", "kubeadm-haproxy.cfg:17"},
                        {"option dontlognull", "kubeadm-haproxy.cfg:18"},
                        {"option http-server-close", "kubeadm-haproxy.cfg:19"},
                        {"option forwardfor except 127.0.0.0/8", "kubeadm-haproxy.cfg:20"},
                        {"timeout http-request 10s", "kubeadm-haproxy.cfg:23"},
                        {"timeout queue 20s", "kubeadm-haproxy.cfg:24"},
                        {"timeout http-keep-alive 10s", "kubeadm-haproxy.cfg:28"},
                        {"option tcplog", "kubeadm-haproxy.cfg:37"},
                        {"option httpchk GET /healthz", "kubeadm-haproxy.cfg:44"},
                        {"http-check expect status 200", "kubeadm-haproxy.cfg:45"},
                    });
  CHECK(not_carried_over_lines(yaml).size() == 15);
  // What cplb does anyway, and the section keywords, need no comment; every other line is cited.
  for (const auto& [n, text] : directive_lines("kubeadm-haproxy.cfg")) {
    if (text == "global" || text == "defaults" || text == "mode tcp" ||
        text.starts_with("option                  redispatch"))
      continue;
    INFO("line " << n << ": " << text << "\n" << yaml);
    CHECK(cites(yaml, "kubeadm-haproxy.cfg:" + std::to_string(n)));
  }
}

TEST_CASE("several frontends, listen sections and default-server lines") {
  const std::string yaml = migrated("several-frontends.cfg");
  const config::config c = load(yaml);

  CHECK(c.global.workers == 4);              // nbthread
  CHECK(c.global.max_connections == 20000);  // maxconn
  CHECK(c.global.shutdown_grace == 30s);     // hard-stop-after

  // One cplb frontend per bind address; the listen section is a frontend and a backend.
  REQUIRE(c.frontends.size() == 4);
  CHECK(c.frontends[0].name == "kube-apiserver");
  CHECK(c.frontends[0].listen.to_string() == "10.0.0.100:6443");
  CHECK(c.frontends[1].name == "kube-apiserver-2");
  CHECK(c.frontends[1].listen.to_string() == "10.0.0.100:16443");
  CHECK(c.frontends[1].backend == "control-plane");
  CHECK(c.frontends[0].connect_timeout == 3s);
  CHECK(c.frontends[0].idle_timeout == 1h);  // the larger of client 1h and server 30m
  CHECK(c.frontends[2].name == "konnectivity");
  CHECK(c.frontends[2].listen.to_string() == "0.0.0.0:8132");
  CHECK(c.frontends[2].idle_timeout == 2h);  // timeout tunnel wins in TCP mode
  CHECK(c.frontends[3].name == "etcd-metrics");
  CHECK(c.frontends[3].backend == "etcd-metrics");

  CHECK(backend(c, "etcd-metrics").balance == config::balance_algorithm::source_hash);
  CHECK(backend(c, "konnectivity-servers").balance == config::balance_algorithm::random_two);
  const auto& cp = backend(c, "control-plane");
  CHECK(cp.balance == config::balance_algorithm::least_conn);
  // default-server lines apply to the servers after them: weight 2 to all, inter 1s to master-3.
  CHECK(server_names(cp) == std::vector<std::string>{"master-1", "master-2", "master-3"});
  CHECK(cp.servers[0].weight == 2);
  CHECK(cp.servers[1].weight == 3);
  CHECK(cp.servers[2].weight == 2);
  CHECK(cp.health_check.protocol == config::check_protocol::tcp);
  CHECK(cp.health_check.interval == 3s);  // inter of the defaults' default-server
  CHECK(cp.health_check.timeout == 3s);   // HAProxy's check timeout is inter without timeout check
  CHECK(cp.health_check.fall == 3);
  CHECK(cp.health_check.rise == 2);

  check_notes(
      yaml,
      {
          {"stats socket /run/haproxy/admin.sock mode 660 level admin", "several-frontends.cfg:6"},
          {"listen stats", "several-frontends.cfg:31"},
          {"maxconn 1000", "several-frontends.cfg:17"},
          {"bind options interface eth0", "several-frontends.cfg:21"},
          {"use_backend konnectivity-servers if { src 10.0.0.0/8 }", "several-frontends.cfg:22"},
          {"maxconn 500", "several-frontends.cfg:40"},
          {"inter 1s of server master-3", "several-frontends.cfg:43"},
          {"server master-4 master-4.example:6443", "several-frontends.cfg:45"},
          {"server spare 10.0.0.14:6443", "several-frontends.cfg:46"},
          {"send-proxy", "several-frontends.cfg:51"},
          {"send-proxy", "several-frontends.cfg:52"},
      });
  CHECK(not_carried_over_lines(yaml).size() == 11);
  // The HTTP listen section is one note, not one per line.
  CHECK_FALSE(cites(yaml, "several-frontends.cfg:34"));
}

TEST_CASE(
    "check-ssl verify none with an http-check send becomes an https check that skips "
    "verification") {
  const std::string yaml = migrated("check-ssl.cfg");
  const config::config c = load(yaml);
  const auto& b = backend(c, "apiservers");
  const auto& h = b.health_check;
  CHECK(h.protocol == config::check_protocol::https);
  CHECK(h.path == "/readyz");
  CHECK(h.headers == std::map<std::string, std::string>{{"Host", "kubernetes.default.svc"}});
  CHECK(h.expect_status == std::vector<unsigned>{200});
  CHECK(h.tls.insecure_skip_verify);
  CHECK(h.tls.ca_file.empty());
  CHECK(h.interval == 2s);
  CHECK(h.timeout == 3s);
  CHECK(h.rise == 3);
  CHECK(h.fall == 2);
  CHECK(b.slow_start == 30s);
  CHECK(b.servers.size() == 3);
  CHECK(not_carried_over_lines(yaml).empty());
}

TEST_CASE("ca-file and crt become the check's TLS files; http-check connect sets port and SNI") {
  const std::string yaml = migrated("mtls-check.cfg");
  const config::config c = load(yaml);
  CHECK(c.frontends[0].listen.to_string() == "[::]:6443");
  const auto& b = backend(c, "apiservers");
  CHECK(b.on_server_down ==
        config::on_server_down_policy::close);  // on-marked-down shutdown-sessions
  const auto& h = b.health_check;
  CHECK(h.protocol == config::check_protocol::https);
  CHECK(h.path == "/livez");
  CHECK(h.port == 6443);
  CHECK(h.expect_status == std::vector<unsigned>{200, 204});
  CHECK(h.interval == 5s);
  CHECK(h.fast_interval == 500ms);
  CHECK(h.tls.ca_file == testdata("cluster-ca.crt"));
  // HAProxy's crt is one PEM with the certificate and its key; cplb reads each from it.
  CHECK(h.tls.cert_file == testdata("client.pem"));
  CHECK(h.tls.key_file == testdata("client.pem"));
  CHECK(h.tls.server_name == "kubernetes");
  CHECK_FALSE(h.tls.insecure_skip_verify);
  CHECK(not_carried_over_lines(yaml).empty());
}

TEST_CASE("option httpchk without check-ssl is a plain HTTP check") {
  const std::string yaml = migrated("http-check.cfg");
  const config::config c = load(yaml);
  REQUIRE(c.frontends.size() == 1);
  CHECK(c.frontends[0].listen.to_string() == "0.0.0.0:8443");  // `listen NAME ADDR`
  CHECK(c.frontends[0].connect_timeout == 2s);
  const auto& h = backend(c, "apiserver").health_check;
  CHECK(h.protocol == config::check_protocol::http);
  CHECK(h.path == "/readyz");
  CHECK(h.port == 8080);
  CHECK(h.interval == 4s);
  CHECK(h.timeout == 4s);
  CHECK(h.expect_status == std::vector<unsigned>{200});
  CHECK(not_carried_over_lines(yaml).empty());
}
