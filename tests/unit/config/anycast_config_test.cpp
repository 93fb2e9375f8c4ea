// The `anycast:` section: defaults, values, and each way it can be wrong.
#include <catch2/catch.hpp>

#include "temp_dir.hpp"

namespace cplb::config::test {
namespace {

using namespace std::chrono_literals;

/// Frontends and backends (lines 1-5), then `anycast:` with one entry (lines 6-8).
const std::string base = R"(frontends:
  - {name: fe, backend: be}
backends:
  - name: be
    servers: [{name: s1, address: 10.0.0.1:6443}]
anycast:
  - name: api
    virtual_ips: [192.0.2.100/32]
)";

struct broken {
  std::string name;
  std::string yaml;
  int line;
  int column;
  std::string key_path;
  std::string message;
};

const std::vector<broken> cases = {
    {"unknown key", base + "    tabel: 198\n", 9, 5, "anycast[0].tabel", "unknown key"},
    {"no name", replace_all(base, "  - name: api\n    virtual_ips", "  - virtual_ips"), 7, 5,
     "anycast[0].name", "is required"},
    {"no virtual IPs", replace_all(base, "[192.0.2.100/32]", "[]"), 8, 18, "anycast[0].virtual_ips",
     "at least one virtual IP is required"},
    {"a /24", replace_all(base, "192.0.2.100/32", "192.0.2.0/24"), 8, 19, "anycast[0].virtual_ips[0]",
     "an anycast VIP is one address, /32"},
    {"an IPv6 /64", replace_all(base, "192.0.2.100/32", "'2001:db8::100/64'"), 8, 19,
     "anycast[0].virtual_ips[0]", "an anycast VIP is one address, /128"},
    {"not an address", replace_all(base, "192.0.2.100/32", "api.example.org"), 8, 19,
     "anycast[0].virtual_ips[0]", "'api.example.org' is not an IPv4 /32 or IPv6 /128 address"},
    {"multicast", replace_all(base, "192.0.2.100/32", "224.0.0.18"), 8, 19, "anycast[0].virtual_ips[0]",
     "is not a unicast address a node can announce"},
    {"local table", base + "    table: 255\n", 9, 12, "anycast[0].table", "table 255 is the kernel's own"},
    {"default table", base + "    table: 253\n", 9, 12, "anycast[0].table", "table 253 is the kernel's own"},
    {"table 0", base + "    table: 0\n", 9, 12, "anycast[0].table", "0 is out of range"},
    {"negative delay", base + "    withdraw_delay: -1s\n", 9, 21, "anycast[0].withdraw_delay", ""},
    {"track a missing backend", base + "    track_backends: [nope]\n", 9, 22, "anycast[0].track_backends[0]",
     "backend 'nope' is not defined (defined: be)"},
    {"track twice", base + "    track_backends: [be, be]\n", 9, 26, "anycast[0].track_backends[1]",
     "duplicate tracked backend 'be'"},
    {"duplicate name", base + "  - {name: api, virtual_ips: [192.0.2.101]}\n", 9, 12, "anycast[1].name",
     "duplicate anycast name 'api' (first at line 7)"},
    {"a VIP in two entries", base + "  - {name: api2, virtual_ips: [192.0.2.100]}\n", 9, 32,
     "anycast[1].virtual_ips[0]", "duplicate anycast virtual IP 192.0.2.100 (first at line 8)"},
    {"the same VIP written twice", replace_all(base, "[192.0.2.100/32]", "['2001:db8::1', '2001:DB8::1/128']"),
     8, 34, "anycast[0].virtual_ips[1]", "duplicate anycast virtual IP 2001:db8::1"},
    {"a VIP that VRRP holds too",
     base + "vrrp_instances:\n  - {name: VI_1, interface: eth0, virtual_router_id: 51, virtual_ips: [192.0.2.100/24]}\n",
     8, 19, "anycast[0].virtual_ips[0]",
     "virtual IP 192.0.2.100 is also a VRRP virtual IP (line 10): a VIP is either anycast or VRRP"},
    {"not a list", replace_all(base, "anycast:\n  - name: api\n    virtual_ips: [192.0.2.100/32]\n",
                               "anycast: {name: api}\n"),
     6, 10, "anycast", "expected a list"},
};

}  // namespace

TEST_CASE("anycast defaults follow the contract") {
  auto result = load_string(base, "test.yaml");
  auto* problems = std::get_if<std::vector<problem>>(&result);
  INFO(describe(problems ? *problems : std::vector<problem>{}));
  REQUIRE(std::holds_alternative<config>(result));
  const auto& c = std::get<config>(result);
  REQUIRE(c.anycast.size() == 1);
  const anycast_config& a = c.anycast[0];
  CHECK(a.name == "api");
  CHECK(a.virtual_ips == std::vector<ip_address>{*ip_address::parse("192.0.2.100")});
  CHECK(a.table == 198);
  CHECK(a.track_backends.empty());
  CHECK(a.withdraw_delay == 2s);
}

TEST_CASE("anycast takes IPv4 and IPv6 host addresses, a table, tracking and a delay") {
  auto ok = load_string(replace_all(base, "    virtual_ips: [192.0.2.100/32]\n", R"(    virtual_ips: [192.0.2.100, '2001:db8::100/128']
    table: 1000
    track_backends: [be]
    withdraw_delay: 500ms
)"), "test.yaml");
  REQUIRE(std::holds_alternative<config>(ok));
  const anycast_config& a = std::get<config>(ok).anycast.at(0);
  CHECK(a.virtual_ips ==
        std::vector<ip_address>{*ip_address::parse("192.0.2.100"), *ip_address::parse("2001:db8::100")});
  CHECK(a.table == 1000);
  CHECK(a.track_backends == std::vector<std::string>{"be"});
  CHECK(a.withdraw_delay == 500ms);
}

TEST_CASE("each broken anycast entry gives one problem, at its place") {
  for (const auto& c : cases) {
    auto problems = problems_of(c.yaml);
    INFO("case: " << c.name << "\nproblems:\n" << describe(problems));
    REQUIRE(problems.size() == 1);
    const problem& p = problems.front();
    CHECK(p.line == c.line);
    CHECK(p.column == c.column);
    CHECK(p.key_path == c.key_path);
    CHECK_THAT(p.message, Catch::Contains(c.message));
  }
}

}  // namespace cplb::config::test
