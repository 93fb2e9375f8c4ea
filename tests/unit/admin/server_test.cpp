#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "cplb/admin/server.hpp"
#include "cplb/admin/status.hpp"
#include "cplb/metrics/exporter.hpp"
#include "fixture.hpp"
#include "http_client.hpp"
#include "json_check.hpp"

using namespace cplb;
using admin::test::get;
using admin::test::http_client;
using metrics::test::test_generation;

namespace {

using namespace std::chrono_literals;

const socket_address loopback_any_port = *socket_address::parse("127.0.0.1:0");

/// An admin server on 127.0.0.1:0 over the sample runtime, on the test thread's io_context.
struct fixture {
  boost::asio::io_context io;
  test_generation gen = test_generation::build(metrics::test::sample_config(), nullptr);
  metrics::exporter exporter;
  std::unique_ptr<admin::server> server;

  explicit fixture(admin::limits limits = {}, const socket_address& listen = loopback_any_port) {
    exporter.set_generation(gen.snapshot);
    exporter.set_vrrp({{"VI_1", vrrp::state::backup, 100}});
    admin::handlers h{
        [this] { return exporter.serialize(); },
        [this] { return admin::check_health(exporter.generation().get()); },
        [] { return admin::health_verdict{true, ""}; },
        [this] {
          return admin::status_json({exporter.generation().get(), exporter.vrrp(), exporter.anycast(), "cplb.yaml",
                                     std::chrono::system_clock::now(), 1, std::chrono::system_clock::now()});
        }};
    server = std::make_unique<admin::server>(io, listen, std::move(h), limits);
    server->start();
  }

  http_client connect() { return http_client(io, server->local_address()); }

  /// One request on a new connection.
  std::optional<admin::test::http_response> fetch(const std::string& raw, bool head = false) {
    auto c = connect();
    c.send(raw);
    return c.receive(head);
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("admin serves /metrics in the Prometheus text format") {
  fixture f;
  CHECK(f.server->local_address().port() != 0);
  const auto r = f.fetch(get("/metrics"));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(contains(r->body, "# TYPE cplb_server_up gauge\n"));
  CHECK(contains(r->body, "cplb_server_up{backend=\"control-plane\",server=\"m1\"} 0\n"));
}

TEST_CASE("admin /healthz follows the servers, on one kept-alive connection") {
  fixture f;
  auto c = f.connect();
  c.send(get("/healthz"));
  auto r = c.receive();
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->body == "no frontend has a backend with a server up\n");

  f.gen.server("control-plane", "m2").set_state(backend::server_state::up,
                                                backend::down_reason::none, "");
  c.send(get("/healthz"));
  r = c.receive();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "ok\n");
}

TEST_CASE("admin /livez is ok while /healthz is not, and answers HEAD") {
  fixture f;
  auto c = f.connect();
  c.send(get("/healthz"));
  auto r = c.receive();
  REQUIRE(r);
  CHECK(r->status == 503);
  c.send(get("/livez"));
  r = c.receive();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "ok\n");
  c.send("HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.receive(true);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("content-length") == "3");
  CHECK(r->body.empty());
}

TEST_CASE("admin /status is JSON naming every server") {
  fixture f;
  const auto r = f.fetch(get("/status"));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("content-type") == "application/json");
  CHECK(admin::test::valid_json(r->body));
  for (const char* name : {"\"m1\"", "\"m2\"", "\"m3\"", "\"e1\"", "\"VI_1\"", "\"cplb.yaml\""})
    CHECK(contains(r->body, name));
}

TEST_CASE("admin refuses unknown paths and other methods") {
  fixture f;
  auto r = f.fetch(get("/nope"));
  REQUIRE(r);
  CHECK(r->status == 404);

  r = f.fetch("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->header("allow") == "GET, HEAD");
}

TEST_CASE("admin answers HEAD with the headers of GET") {
  fixture f;
  auto c = f.connect();
  c.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.receive(true);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(std::stoul(r->header("content-length")) > 100);
  CHECK(r->body.empty());
  // The connection is still in step: the next answer is read cleanly.
  c.send(get("/healthz"));
  r = c.receive();
  REQUIRE(r);
  CHECK(r->status == 503);
}

TEST_CASE("admin closes after a bad or oversized request") {
  fixture f({.header_limit = 1024});
  SECTION("oversized header") {
    auto c = f.connect();
    c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
    const auto r = c.receive();
    REQUIRE(r);
    CHECK(r->status == 431);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
  }
  SECTION("garbage") {
    auto c = f.connect();
    c.send("\x01\x02 nonsense\r\n\r\n");
    const auto r = c.receive();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(c.wait_closed());
  }
  SECTION("a request body") {
    auto c = f.connect();
    c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    const auto r = c.receive();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(c.wait_closed());
  }
  SECTION("Connection: close is honoured") {
    auto c = f.connect();
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto r = c.receive();
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(c.wait_closed());
  }
}

TEST_CASE("admin closes a connection that sends no request in time") {
  fixture f({.io_timeout = 200ms});
  auto c = f.connect();
  c.send("GET /metr");  // never finished
  const auto start = std::chrono::steady_clock::now();
  CHECK(c.wait_closed());
  CHECK(std::chrono::steady_clock::now() - start >= 150ms);
}

TEST_CASE("admin closes connections over its limit at once") {
  fixture f({.max_connections = 2});
  auto first = f.connect();
  auto second = f.connect();
  auto third = f.connect();
  CHECK(third.wait_closed());
  // The first two are still served.
  first.send(get("/healthz"));
  CHECK(first.receive());
  second.send(get("/healthz"));
  CHECK(second.receive());
  CHECK(f.server->open_connections() == 2);
  // Once one leaves, there is room again.
  first.close();
  CHECK(admin::test::run_until(f.io, [&f] { return f.server->open_connections() == 1; }));
  auto fourth = f.connect();
  fourth.send(get("/healthz"));
  CHECK(fourth.receive());
}

TEST_CASE("admin start names the address it cannot bind") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto address = *socket_address::from_ip("127.0.0.1", taken.local_endpoint().port());
  admin::server s(io, address, {}, {});
  try {
    s.start();
    FAIL("start() did not throw");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), address.to_string()));
  }
}

TEST_CASE("admin rebinds on reload and keeps serving when it cannot") {
  fixture f;
  const auto before = f.server->local_address();
  auto kept = f.connect();

  SECTION("to a taken address: prepare fails, and the old one still serves") {
    boost::asio::ip::tcp::acceptor taken(f.io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto address = *socket_address::from_ip("127.0.0.1", taken.local_endpoint().port());
    admin::prepared_rebind prepared;
    std::string error;
    CHECK_FALSE(f.server->prepare_rebind(address, prepared, error));
    CHECK(contains(error, address.to_string()));
    CHECK(f.server->local_address() == before);
    CHECK(f.fetch(get("/healthz")));
  }
  SECTION("prepared but not committed: nothing changes, and the new address is let go") {
    const auto loopback = boost::asio::ip::make_address("127.0.0.1");
    std::uint16_t free_port = 0;
    {
      boost::asio::ip::tcp::acceptor probe(f.io, {loopback, 0});
      free_port = probe.local_endpoint().port();
    }
    std::string error;
    {
      admin::prepared_rebind prepared;
      REQUIRE(f.server->prepare_rebind(*socket_address::from_ip("127.0.0.1", free_port), prepared, error));
      CHECK(f.server->local_address() == before);
      CHECK(f.fetch(get("/healthz")));
    }
    CHECK(f.server->local_address() == before);
    boost::asio::ip::tcp::acceptor again(f.io);
    again.open(boost::asio::ip::tcp::v4());
    again.set_option(boost::asio::ip::tcp::acceptor::reuse_address(true));
    CHECK_NOTHROW(again.bind({loopback, free_port}));
  }
  SECTION("to the wildcard on the same port: bound at commit, after the old socket goes") {
    const auto wildcard = *socket_address::from_ip("0.0.0.0", before.port());
    admin::prepared_rebind prepared;
    std::string error;
    REQUIRE(f.server->prepare_rebind(wildcard, prepared, error));
    CHECK(f.server->local_address() == before);
    f.server->commit_rebind(std::move(prepared));
    CHECK(f.server->local_address() == wildcard);
    CHECK(f.fetch(get("/healthz")));
  }
  SECTION("to another address: the new one serves, open connections stay") {
    const auto v6 = *socket_address::parse("[::1]:0");
    admin::prepared_rebind prepared;
    std::string error;
    REQUIRE(f.server->prepare_rebind(v6, prepared, error));
    CHECK(error.empty());
    CHECK(f.server->local_address() == before);
    f.server->commit_rebind(std::move(prepared));
    CHECK(f.server->local_address().family() == AF_INET6);
    CHECK(f.fetch(get("/healthz")));
    kept.send(get("/healthz"));
    CHECK(kept.receive());
    CHECK_THROWS(http_client(f.io, before));
  }
}

TEST_CASE("admin stop closes the listener and open connections") {
  fixture f;
  const auto address = f.server->local_address();
  auto c = f.connect();
  c.send(get("/healthz"));
  REQUIRE(c.receive());
  f.server->stop();
  CHECK(c.wait_closed());
  CHECK_THROWS(http_client(f.io, address));
}
