// `cplb migrate` on keepalived configs: the kubeadm HA guide's, and unicast VRRPv3.
#include <catch2/catch.hpp>

#include "migrate_fixture.hpp"

using namespace cplb;
using namespace cplb::app::migrate::test;
using namespace std::chrono_literals;

namespace {

/// A small HAProxy config to go with the keepalived ones: one backend to track.
const std::string one_backend = R"(
frontend api
    bind :6443
    default_backend control-plane
backend control-plane
    server m1 10.0.0.11:6443 check
)";

/// The only VRRP instance of the migration of `keepalived` (with `one_backend`), and the YAML.
std::pair<config::vrrp_instance_config, std::string> instance_of(const std::string& keepalived) {
  auto result = migrate_text(one_backend, keepalived);
  if (const auto* e = std::get_if<app::migrate::error>(&result)) FAIL(e->to_string());
  const std::string yaml = std::get<std::string>(result);
  const config::config c = load(yaml);
  REQUIRE(c.vrrp_instances.size() == 1);
  return {c.vrrp_instances[0], yaml};
}

}  // namespace

TEST_CASE("the kubeadm HA guide's keepalived.conf becomes a VRRPv2 instance tracking the backend") {
  const std::string yaml = migrated("kubeadm-haproxy.cfg", "kubeadm-keepalived.conf");
  const config::config c = load(yaml);
  REQUIRE(c.vrrp_instances.size() == 1);
  const auto& v = c.vrrp_instances[0];
  CHECK(v.name == "VI_1");
  CHECK(v.interface == "eth0");
  CHECK(v.virtual_router_id == 51);
  CHECK(v.priority == 101);
  CHECK(v.version == 2);  // keepalived's default: the pair must speak the same version
  CHECK(v.advert_interval == 1s);
  CHECK(v.preempt);
  CHECK(v.unicast_peers.empty());
  REQUIRE(v.virtual_ips.size() == 1);
  CHECK(v.virtual_ips[0].text == "192.168.1.100");
  CHECK(v.virtual_ips[0].prefix_length == 32);
  // track_script check_apiserver (weight -2) becomes the backend's health, at the same cost.
  CHECK(v.track_backends == std::vector<std::string>{"apiserverbackend"});
  CHECK(v.track_penalty == 2);

  for (const auto& [what, where] : std::vector<std::pair<std::string, std::string>>{
           {"router_id LVS_DEVEL", "kubeadm-keepalived.conf:4"},
           {"vrrp_script check_apiserver", "kubeadm-keepalived.conf:6"},
           {"state MASTER", "kubeadm-keepalived.conf:15"},
           {"auth_type PASS", "kubeadm-keepalived.conf:20"},
           {"auth_pass", "kubeadm-keepalived.conf:21"},
           {"track_script check_apiserver", "kubeadm-keepalived.conf:26"},
       }) {
    INFO(what << " (" << where << ")\n" << yaml);
    CHECK(note_for(yaml, what, where));
  }
  CHECK(note_for(yaml, "track_script check_apiserver", "kubeadm-keepalived.conf:26")
            ->find("track_backends") != std::string::npos);
  CHECK(note_for(yaml, "auth_pass", "kubeadm-keepalived.conf:21")->find("not support") !=
        std::string::npos);
  CHECK(yaml.find("42") == std::string::npos);  // the password stays out of the output
  // Every line of the instance that holds a value is cited.
  for (int line : {14, 16, 17, 18, 23})
    CHECK(cites(yaml, "kubeadm-keepalived.conf:" + std::to_string(line)));
}

TEST_CASE("unicast VRRPv3 with a sub-second advert interval and no preemption") {
  const std::string yaml = migrated("several-frontends.cfg", "unicast-keepalived.conf");
  const config::config c = load(yaml);
  REQUIRE(c.vrrp_instances.size() == 1);
  const auto& v = c.vrrp_instances[0];
  CHECK(v.name == "API");
  CHECK(v.interface == "ens192");
  CHECK(v.version == 3);  // global_defs vrrp_version
  CHECK(v.advert_interval == 250ms);
  CHECK_FALSE(v.preempt);
  CHECK(v.unicast_peers.size() == 2);
  REQUIRE(v.virtual_ips.size() == 1);
  CHECK(v.virtual_ips[0].text == "10.0.0.100/24");
  CHECK(v.garp.count == 3);
  CHECK(v.garp.refresh == 60s);
  // A script of weight 0 puts keepalived in FAULT when it fails: cplb drops below any peer.
  CHECK(v.track_penalty == 149);
  CHECK(v.track_backends.size() == 3);

  for (const auto& [what, where] : std::vector<std::pair<std::string, std::string>>{
           {"enable_script_security", "unicast-keepalived.conf:4"},
           {"script_user keepalived_script", "unicast-keepalived.conf:5"},
           {"vrrp_script chk_haproxy", "unicast-keepalived.conf:8"},
           {"state BACKUP", "unicast-keepalived.conf:15"},
           {"unicast_src_ip 10.0.0.21", "unicast-keepalived.conf:21"},
           {"label ens192:vip of 10.0.0.100/24", "unicast-keepalived.conf:27"},
           {"2001:db8::100/64", "unicast-keepalived.conf:28"},
           {"notify_master /usr/local/bin/notify.sh master", "unicast-keepalived.conf:32"},
           {"track_script chk_haproxy", "unicast-keepalived.conf:33"},
       }) {
    INFO(what << " (" << where << ")\n" << yaml);
    CHECK(note_for(yaml, what, where));
  }
}

TEST_CASE("keepalived values cplb takes differently are fitted, and say so") {
  SECTION("VRRPv2 carries whole seconds") {
    const auto [v, yaml] = instance_of(R"(
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 7
    advert_int 1.4
    virtual_ipaddress { 10.0.0.100/24 }
})");
    CHECK(v.version == 2);
    CHECK(v.advert_interval == 1s);
    CHECK(yaml.find("VRRPv2 carries 1s") != std::string::npos);
  }
  SECTION("priority 255 is the address owner's, which cplb never is") {
    const auto [v, yaml] = instance_of(R"(
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 7
    priority 255
    version 3
    virtual_ipaddress {
        10.0.0.100
    }
})");
    CHECK(v.priority == 254);
  }
  SECTION("a script that raises the priority while it succeeds") {
    const auto [v, yaml] = instance_of(R"(
vrrp_script chk {
    script "true"
    weight 20
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 7
    priority 100
    virtual_ipaddress {
        10.0.0.100
    }
    track_script {
        chk
    }
})");
    // keepalived advertises 120 while the script succeeds and 100 when it fails.
    CHECK(v.priority == 120);
    CHECK(v.track_penalty == 20);
  }
}

TEST_CASE("an instance cplb cannot run is left out with a note") {
  auto result = migrate_text(one_backend, R"(
vrrp_instance VI_6 {
    interface eth0
    virtual_router_id 8
    virtual_ipaddress {
        2001:db8::1/64
    }
}
)");
  REQUIRE(std::holds_alternative<std::string>(result));
  const std::string yaml = std::get<std::string>(result);
  CHECK(load(yaml).vrrp_instances.empty());
  CHECK(note_for(yaml, "vrrp_instance VI_6", "keepalived.conf:2"));
  CHECK(note_for(yaml, "2001:db8::1/64", "keepalived.conf:6"));
}
