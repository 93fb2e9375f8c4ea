#include <catch2/catch.hpp>

#include <sys/socket.h>

#include "cplb/core/ip_address.hpp"

TEST_CASE("ip_address parses IP literals and says which a host may own") {
  struct row { const char* text; bool ok; int family; const char* printed; bool unicast; };
  const row rows[] = {
      {"192.0.2.100", true, AF_INET, "192.0.2.100", true},
      {"2001:db8::100", true, AF_INET6, "2001:db8::100", true},
      {"2001:DB8:0::100", true, AF_INET6, "2001:db8::100", true},
      {"0.0.0.0", true, AF_INET, "0.0.0.0", false},
      {"127.0.0.1", true, AF_INET, "127.0.0.1", false},
      {"169.254.1.1", true, AF_INET, "169.254.1.1", false},
      {"224.0.0.18", true, AF_INET, "224.0.0.18", false},
      {"255.255.255.255", true, AF_INET, "255.255.255.255", false},
      {"::", true, AF_INET6, "::", false},
      {"::1", true, AF_INET6, "::1", false},
      {"fe80::1", true, AF_INET6, "fe80::1", false},
      {"ff02::12", true, AF_INET6, "ff02::12", false},
      {"192.0.2.100/32", false, 0, "", false},
      {"[2001:db8::1]", false, 0, "", false},
      {"300.1.1.1", false, 0, "", false},
      {"", false, 0, "", false},
  };
  for (const auto& r : rows) {
    INFO(r.text);
    const auto a = cplb::ip_address::parse(r.text);
    REQUIRE(a.has_value() == r.ok);
    if (!r.ok) continue;
    CHECK(a->family() == r.family);
    CHECK(a->to_string() == r.printed);
    CHECK(a->is_global_unicast() == r.unicast);
    CHECK(a->host_prefix_length() == (r.family == AF_INET ? 32u : 128u));
  }
}

TEST_CASE("ip_address round-trips through its bytes and orders IPv4 before IPv6") {
  const auto v4 = *cplb::ip_address::parse("198.51.100.7");
  CHECK(cplb::ip_address::from_bytes(AF_INET, v4.bytes().data()) == v4);
  CHECK(v4.bytes()[0] == 198);
  const auto v6 = *cplb::ip_address::parse("2001:db8::7");
  CHECK(cplb::ip_address::from_bytes(AF_INET6, v6.bytes().data()) == v6);
  CHECK(v4 < v6);
  CHECK(*cplb::ip_address::parse("192.0.2.1") < *cplb::ip_address::parse("192.0.2.2"));
}
