// The announcer against a fake kernel: which routes and addresses it keeps, and what it reports.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "cplb/anycast/announcer.hpp"

namespace cplb::anycast {
namespace {

ip_address ip(const char* text) { return *ip_address::parse(text); }

/// Addresses and routes as the kernel would hold them, with failures to order.
struct fake_kernel final : kernel {
  std::set<ip_address> local;
  std::map<unsigned, std::map<ip_address, bool>> tables;  ///< table -> vip -> via our device
  std::set<ip_address> refuse_route;                      ///< add_route fails for these
  int calls = 0;

  std::error_code add_local(const ip_address& vip) override { return ++calls, local.insert(vip), std::error_code{}; }
  std::error_code remove_local(const ip_address& vip) override { return ++calls, local.erase(vip), std::error_code{}; }
  std::error_code locals(std::vector<ip_address>& out) override {
    out.assign(local.begin(), local.end());
    return {};
  }
  std::error_code add_route(unsigned table, const ip_address& vip) override {
    ++calls;
    if (refuse_route.count(vip)) return std::make_error_code(std::errc::network_down);
    tables[table][vip] = true;
    return {};
  }
  std::error_code remove_route(unsigned table, const ip_address& vip) override {
    ++calls;
    tables[table].erase(vip);
    return {};
  }
  std::error_code routes(unsigned table, std::vector<found_route>& out) override {
    for (const auto& [vip, ours] : tables[table]) out.push_back({vip, ours});
    return {};
  }
  std::set<ip_address> routed(unsigned table) {
    std::set<ip_address> out;
    for (const auto& [vip, ours] : tables[table]) out.insert(vip);
    return out;
  }
};

struct change {
  std::string name;
  std::string vip;
  bool announced;
  std::string reason;
  bool removed;
};

struct fixture {
  fake_kernel k;
  std::vector<change> changes;
  announcer a{k, [this](const vip_status& s, bool removed) {
                changes.push_back({s.name, s.vip.to_string(), s.announced, s.reason, removed});
              }};
};

const announcement_settings api{"api", {ip("192.0.2.100"), ip("2001:db8::100")}, 198, {"control-plane"}};

}  // namespace

TEST_CASE("a VIP is announced once its tracked backend has a server up, and withdrawn without one") {
  fixture f;
  f.a.configure({api});
  CHECK(f.k.local == std::set{ip("192.0.2.100"), ip("2001:db8::100")});  // local from the start
  CHECK(f.k.routed(198).empty());
  REQUIRE(f.changes.size() == 2);
  CHECK(f.changes[0].reason == "waiting for the first checks of backend control-plane");
  CHECK_FALSE(f.changes[0].announced);

  f.changes.clear();
  f.a.set_backend_health({{"control-plane", backend_health::serving}});
  CHECK(f.k.routed(198) == std::set{ip("192.0.2.100"), ip("2001:db8::100")});
  REQUIRE(f.changes.size() == 2);
  CHECK(f.changes[1].vip == "2001:db8::100");
  CHECK(f.changes[1].announced);
  CHECK(f.changes[1].reason.empty());

  f.changes.clear();
  f.a.set_backend_health({{"control-plane", backend_health::serving}});  // no change: nothing done
  CHECK(f.changes.empty());

  f.a.set_backend_health({{"control-plane", backend_health::down}});
  CHECK(f.k.routed(198).empty());
  CHECK(f.k.local.size() == 2);  // established sessions keep their address
  REQUIRE(f.changes.size() == 2);
  CHECK(f.changes[0].reason == "backend control-plane has no server up");
  CHECK(f.a.status().at(0).reason == "backend control-plane has no server up");
}

TEST_CASE("an announcement without tracked backends is announced at once, and withdraw_all is for good") {
  fixture f;
  f.a.configure({{"plain", {ip("203.0.113.7")}, 300, {}}});
  CHECK(f.k.routed(300) == std::set{ip("203.0.113.7")});
  f.a.withdraw_all("shutting down");
  CHECK(f.k.routed(300).empty());
  CHECK(f.a.status().at(0).reason == "shutting down");
  f.a.set_backend_health({{"x", backend_health::serving}});
  f.a.resync();
  CHECK(f.k.routed(300).empty());
  CHECK(f.k.local == std::set{ip("203.0.113.7")});
}

TEST_CASE("routes of cplb's protocol that nothing announces are removed, others replaced") {
  fixture f;
  f.k.tables[198][ip("192.0.2.100")] = false;  // left by an earlier process: not via our device
  f.k.tables[198][ip("192.0.2.99")] = false;   // an old VIP
  f.a.configure({{"api", {ip("192.0.2.100")}, 198, {}}});
  CHECK(f.k.tables[198] == std::map<ip_address, bool>{{ip("192.0.2.100"), true}});
}

TEST_CASE("a reload moves, adds and removes announcements by difference") {
  fixture f;
  f.a.set_backend_health({{"control-plane", backend_health::serving}});
  f.a.configure({api, {"other", {ip("198.51.100.50")}, 198, {}}});
  CHECK(f.k.routed(198).size() == 3);
  f.changes.clear();
  f.a.configure({{"api", {ip("192.0.2.100")}, 199, {"control-plane"}}});
  CHECK(f.k.routed(198).empty());
  CHECK(f.k.routed(199) == std::set{ip("192.0.2.100")});
  CHECK(f.k.local == std::set{ip("192.0.2.100")});
  // Two VIPs left; api's IPv4 one moved to another table, which is a change too.
  REQUIRE(f.changes.size() == 3);
  CHECK(f.changes[0].removed);
  CHECK(f.changes[0].vip == "2001:db8::100");
  CHECK(f.changes[1].removed);
  CHECK(f.changes[1].reason == "removed from the configuration");
  CHECK_FALSE(f.changes[2].removed);
  CHECK(f.changes[2].announced);
  CHECK(f.a.status().size() == 1);
  CHECK(f.a.status()[0].table == 199);
}

TEST_CASE("a route the kernel refuses is reported, the others announced") {
  fixture f;
  f.k.refuse_route.insert(ip("2001:db8::100"));
  f.a.set_backend_health({{"control-plane", backend_health::serving}});
  f.a.configure({api});
  CHECK(f.k.routed(198) == std::set{ip("192.0.2.100")});
  const auto& s = f.a.status();
  REQUIRE(s.size() == 2);
  CHECK(s[0].announced);
  CHECK_FALSE(s[1].announced);
  CHECK_THAT(s[1].reason, Catch::StartsWith("cannot add the route: "));
  f.k.refuse_route.clear();
  f.a.resync();
  CHECK(f.a.status()[1].announced);
}

TEST_CASE("resync puts back what someone else removed, and says how much") {
  fixture f;
  f.a.configure({{"api", {ip("192.0.2.100")}, 198, {}}});
  CHECK(f.a.resync() == 0);
  f.k.tables[198].clear();  // ip route flush table 198
  f.k.local.clear();
  f.changes.clear();
  CHECK(f.a.resync() == 2);
  CHECK(f.k.routed(198) == std::set{ip("192.0.2.100")});
  CHECK(f.k.local == std::set{ip("192.0.2.100")});
  CHECK(f.changes.empty());  // its state never changed
}

TEST_CASE("a backend never checked keeps the VIP withdrawn, whatever the others say") {
  fixture f;
  f.a.configure({{"api", {ip("192.0.2.100")}, 198, {"a", "b"}}});
  f.a.set_backend_health({{"a", backend_health::serving}});
  CHECK(f.k.routed(198).empty());
  CHECK(f.a.status()[0].reason == "waiting for the first checks of backend b");
  f.a.set_backend_health({{"a", backend_health::serving}, {"b", backend_health::serving}});
  CHECK(f.k.routed(198).size() == 1);
}

}  // namespace cplb::anycast
