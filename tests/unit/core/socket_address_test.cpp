#include <catch2/catch.hpp>

#include "cplb/core/socket_address.hpp"

TEST_CASE("socket_address parses IPv4 and bracketed IPv6") {
  struct row { const char* text; bool ok; int family; const char* printed; };
  const row rows[] = {
      {"10.0.0.11:6443", true, AF_INET, "10.0.0.11:6443"},
      {"0.0.0.0:1", true, AF_INET, "0.0.0.0:1"},
      {"[::1]:6443", true, AF_INET6, "[::1]:6443"},
      {"[2001:db8::1]:443", true, AF_INET6, "[2001:db8::1]:443"},
      {"127.0.0.1:65535", true, AF_INET, "127.0.0.1:65535"},
      {"127.0.0.1:65536", false, 0, ""},
      {"127.0.0.1:", false, 0, ""},
      {"127.0.0.1", false, 0, ""},
      {"::1:6443", false, 0, ""},
      {"[127.0.0.1]:80", false, 0, ""},
      {"[::1]6443", false, 0, ""},
      {"master-1:6443", false, 0, ""},
      {"300.0.0.1:80", false, 0, ""},
      {"10.0.0.1:-5", false, 0, ""},
      {":6443", false, 0, ""},
  };
  for (const auto& r : rows) {
    INFO(r.text);
    const auto a = cplb::socket_address::parse(r.text);
    REQUIRE(a.has_value() == r.ok);
    if (!r.ok) continue;
    CHECK(a->family() == r.family);
    CHECK(a->to_string() == r.printed);
  }
}

TEST_CASE("socket_address ports, equality and hashing") {
  const auto a = *cplb::socket_address::parse("192.0.2.1:80");
  CHECK(a.port() == 80);
  CHECK(a.with_port(443).to_string() == "192.0.2.1:443");
  CHECK(a == *cplb::socket_address::parse("192.0.2.1:80"));
  CHECK_FALSE(a == a.with_port(81));
  CHECK(a.ip_hash() == a.with_port(9).ip_hash());
  CHECK(a.ip_hash() != cplb::socket_address::parse("192.0.2.2:80")->ip_hash());
  CHECK(a.ip_string() == "192.0.2.1");
}
