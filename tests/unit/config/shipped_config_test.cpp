// The example configs of conf/ load.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "temp_dir.hpp"

namespace cplb::config::test {
namespace {

const std::string source_dir = CPLB_SOURCE_DIR;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool readable(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

}  // namespace

TEST_CASE("conf/cplb.yaml loads") {
  auto result = load_file(source_dir + "/conf/cplb.yaml");
  auto* problems = std::get_if<std::vector<problem>>(&result);
  INFO(describe(problems ? *problems : std::vector<problem>{}));
  REQUIRE(std::holds_alternative<config>(result));
  const config& c = std::get<config>(result);
  REQUIRE(c.backends.size() == 1);
  CHECK(c.backends[0].servers.size() == 3);
  CHECK(c.backends[0].servers[2].host == "10.0.0.13");
  CHECK(c.backends[0].health_check.path == "/readyz");
  REQUIRE(c.vrrp_instances.size() == 1);
  CHECK(c.vrrp_instances[0].virtual_ips[0].text == "10.0.0.100/24");
  CHECK(c.vrrp_instances[0].track_backends == std::vector<std::string>{"control-plane"});
}

TEST_CASE("conf/cplb.yaml with its kubeadm TLS line uncommented needs only the cluster CA") {
  std::string text = read_text(source_dir + "/conf/cplb.yaml");
  // No near-admin kubeadm credential for the checks (docs/health-check-credentials.md).
  CHECK(text.find("apiserver-kubelet-client") == std::string::npos);
  REQUIRE(text.find("# ca_file:") != std::string::npos);
  text = replace_all(text, "# ca_file:", "ca_file:");
  std::vector<std::string> files = {"/etc/kubernetes/pki/ca.crt"};
  std::vector<std::string> missing;
  for (const auto& f : files)
    if (!readable(f)) missing.push_back(f);

  auto problems = problems_of(text, "cplb.yaml");
  INFO(describe(problems));
  REQUIRE(problems.size() == missing.size());
  for (std::size_t i = 0; i < problems.size(); ++i)
    CHECK_THAT(problems[i].message, Catch::StartsWith("cannot read '" + missing[i] + "'"));
}

TEST_CASE("conf/demo.yaml loads once the demo's CA exists") {
  temp_dir dir;
  dir.write("ca.crt", "x\n");
  std::string text = read_text(source_dir + "/conf/demo.yaml");
  REQUIRE(text.find("/tmp/cplb-demo/") != std::string::npos);
  auto result = load_string(replace_all(text, "/tmp/cplb-demo", dir.path()), "demo.yaml");
  auto* problems = std::get_if<std::vector<problem>>(&result);
  INFO(describe(problems ? *problems : std::vector<problem>{}));
  REQUIRE(std::holds_alternative<config>(result));
  const config& c = std::get<config>(result);
  CHECK(c.frontends[0].listen == *socket_address::parse("127.0.0.1:6443"));
  REQUIRE(c.backends[0].servers.size() == 3);
  CHECK(c.backends[0].servers[0].address == *socket_address::parse("127.0.0.1:16441"));
  CHECK(c.backends[0].servers[2].name == "demo-3");
  CHECK(c.backends[0].health_check.tls.ca_file == dir.path() + "/ca.crt");
  CHECK(c.backends[0].health_check.tls.server_name == "localhost");
  CHECK(c.vrrp_instances.empty());
}

TEST_CASE("conf/demo.yaml as shipped fails only for the CA the demo generates") {
  auto result = load_file(source_dir + "/conf/demo.yaml");
  if (readable("/tmp/cplb-demo/ca.crt")) {
    CHECK(std::holds_alternative<config>(result));
    return;
  }
  REQUIRE(std::holds_alternative<std::vector<problem>>(result));
  auto problems = std::get<std::vector<problem>>(result);
  INFO(describe(problems));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].key_path == "backends[0].health_check.tls.ca_file");
  CHECK_THAT(problems[0].message, Catch::StartsWith("cannot read '/tmp/cplb-demo/ca.crt'"));
}

}  // namespace cplb::config::test
