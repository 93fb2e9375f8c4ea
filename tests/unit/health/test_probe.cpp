#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>

#include "cplb/health/probe.hpp"
#include "test_pki.hpp"
#include "test_server.hpp"

// Probes against real peers on 127.0.0.1 with certificates made by the test. Every probe is
// bounded by its own timeout; every wait of the test by a few seconds.

using namespace std::chrono_literals;
using cplb::backend::down_reason;
using cplb::config::check_protocol;
using namespace cplb::health;
using namespace cplb::health::testing;

namespace {

/// A CA, the server certificates it issued, a client certificate, and a foreign CA.
struct pki {
  temp_dir dir;
  authority ca{dir, "ca"};
  authority other_ca{dir, "other-ca"};
  pem_files server = ca.issue("server", "IP:127.0.0.1, IP:::1, DNS:localhost", usage::server);
  pem_files dns_only = ca.issue("dns-only", "DNS:localhost", usage::server);
  pem_files expired = ca.issue("expired", "IP:127.0.0.1", usage::server, -3 * 86400, -86400);
  pem_files foreign = other_ca.issue("foreign", "IP:127.0.0.1", usage::server);
  pem_files client = ca.issue("client", "", usage::client);
};

pki& certificates() {
  static pki p;
  return p;
}

/// A health check trusting the test CA, with short timeouts.
cplb::config::health_check_config https_check() {
  cplb::config::health_check_config hc;
  hc.protocol = check_protocol::https;
  hc.path = "/readyz";
  hc.timeout = 1000ms;
  hc.tls.ca_file = certificates().ca.cert_file();
  return hc;
}

/// Probes `address` once and returns the verdict.
probe_result probe_once(boost::asio::io_context& io, const cplb::config::health_check_config& hc,
                        const cplb::socket_address& address,
                        const std::string& host = "127.0.0.1") {
  std::optional<probe_result> result;
  auto p = start_probe(io, make_probe_spec(hc), address, host,
                       [&](const probe_result& r) { result = r; });
  run_until(io, [&] { return result.has_value(); });
  INFO("reason " << cplb::backend::to_string(result->reason) << ", detail " << result->detail);
  CHECK(result->passed == (result->reason == down_reason::none));
  return *result;
}

server_options tls_server(const pem_files& cert) {
  server_options o;
  o.cert_file = cert.cert;
  o.key_file = cert.key;
  return o;
}

}  // namespace

TEST_CASE("https probe passes on an expected status and closes TLS cleanly") {
  boost::asio::io_context io;
  test_server server(io, tls_server(certificates().server));
  auto hc = https_check();
  hc.headers = {{"X-Probe", "yes"}};
  const auto r = probe_once(io, hc, server.address());
  CHECK(r.passed);
  CHECK(r.connected);
  CHECK(r.took > 0s);
  run_until(io, [&] { return server.log().clean_tls_closes == 1; });
  REQUIRE(server.log().requests.size() == 1);
  const auto& request = server.log().requests[0];
  CHECK(request.target() == "/readyz");
  CHECK(request["Host"] == "127.0.0.1:" + std::to_string(server.address().port()));
  CHECK(request["Connection"] == "close");
  CHECK(request["X-Probe"] == "yes");
  CHECK(request["Authorization"].empty());
  REQUIRE(server.log().server_names.size() == 1);
  CHECK(server.log().server_names[0].empty());  // no SNI for an IP literal
}

TEST_CASE("https probe over IPv6 verifies the IPv6 SAN and brackets the Host") {
  boost::asio::io_context io;
  auto options = tls_server(certificates().server);
  options.listen_ip = "::1";
  std::optional<test_server> server;
  try {
    server.emplace(io, options);
  } catch (const std::exception& e) {
    WARN("no IPv6 loopback here, IPv6 probe not tested: " << e.what());
    return;
  }
  CHECK(probe_once(io, https_check(), server->address(), "::1").passed);
  CHECK(server->log().requests.at(0)["Host"] ==
        "[::1]:" + std::to_string(server->address().port()));

  test_server v4_only(io, tls_server(certificates().foreign));
  auto hc = https_check();
  hc.tls.insecure_skip_verify = true;
  hc.tls.server_name = "::1";  // an IP literal as server_name: no SNI
  CHECK(probe_once(io, hc, v4_only.address()).passed);
  CHECK(v4_only.log().server_names.at(0).empty());
}

TEST_CASE("https probe sends server_name as SNI and verifies it") {
  boost::asio::io_context io;
  test_server server(io, tls_server(certificates().dns_only));
  auto hc = https_check();
  hc.tls.server_name = "localhost";
  CHECK(probe_once(io, hc, server.address()).passed);
  REQUIRE(server.log().server_names.size() == 1);
  CHECK(server.log().server_names[0] == "localhost");
  CHECK(server.log().requests.at(0)["Host"] ==
        "localhost:" + std::to_string(server.address().port()));
}

TEST_CASE("https probe fails on an unexpected status") {
  boost::asio::io_context io;
  auto options = tls_server(certificates().server);
  options.status = 500;
  test_server server(io, options);
  const auto r = probe_once(io, https_check(), server.address());
  CHECK(r.reason == down_reason::http_status);
  CHECK(r.detail == "500");
  CHECK(r.connected);

  auto accepting = https_check();
  accepting.expect_status = {200, 500};
  CHECK(probe_once(io, accepting, server.address()).passed);
}

TEST_CASE("a probe that hangs times out") {
  boost::asio::io_context io;
  silent_listener silent(io);
  auto hc = https_check();
  hc.timeout = 300ms;
  const auto r = probe_once(io, hc, silent.address());
  CHECK(r.reason == down_reason::timeout);
  CHECK(r.detail == "tls handshake did not finish within 300ms");
  CHECK(r.connected);
  CHECK(r.took >= 290ms);
  CHECK(r.took < 2s);

  hc.protocol = check_protocol::http;
  const auto plain = probe_once(io, hc, silent.address());
  CHECK(plain.reason == down_reason::timeout);
  CHECK(plain.detail == "response did not finish within 300ms");
}

TEST_CASE("a refused connect is reported as refused") {
  boost::asio::io_context io;
  closed_port closed(io);
  for (auto protocol : {check_protocol::https, check_protocol::http, check_protocol::tcp}) {
    auto hc = https_check();
    hc.protocol = protocol;
    const auto r = probe_once(io, hc, closed.address());
    CHECK(r.reason == down_reason::refused);
    CHECK_FALSE(r.connected);
  }
}

TEST_CASE("a certificate from another CA fails the handshake, unless verification is off") {
  boost::asio::io_context io;
  test_server server(io, tls_server(certificates().foreign));
  const auto r = probe_once(io, https_check(), server.address());
  CHECK(r.reason == down_reason::tls_handshake);
  CHECK(r.detail == "unable to get local issuer certificate");
  CHECK(r.connected);

  auto insecure = https_check();
  insecure.tls.insecure_skip_verify = true;
  CHECK(probe_once(io, insecure, server.address()).passed);
}

TEST_CASE("a certificate for another name fails the handshake") {
  boost::asio::io_context io;
  test_server server(io, tls_server(certificates().server));
  auto hc = https_check();
  hc.tls.server_name = "apiserver.example";
  const auto r = probe_once(io, hc, server.address());
  CHECK(r.reason == down_reason::tls_handshake);
  CHECK(r.detail == "hostname mismatch");

  test_server dns_only(io, tls_server(certificates().dns_only));
  const auto ip = probe_once(io, https_check(), dns_only.address());
  CHECK(ip.reason == down_reason::tls_handshake);
  CHECK(ip.detail == "IP address mismatch");
}

TEST_CASE("an expired certificate fails the handshake") {
  boost::asio::io_context io;
  test_server server(io, tls_server(certificates().expired));
  const auto r = probe_once(io, https_check(), server.address());
  CHECK(r.reason == down_reason::tls_handshake);
  CHECK(r.detail == "certificate has expired");
}

TEST_CASE("mTLS: the client certificate is presented when configured") {
  boost::asio::io_context io;
  auto options = tls_server(certificates().server);
  options.client_ca_file = certificates().ca.cert_file();
  test_server server(io, options);

  const auto without = probe_once(io, https_check(), server.address());
  CHECK(without.reason == down_reason::tls_handshake);
  CHECK(without.detail == "tlsv13 alert certificate required");

  auto hc = https_check();
  hc.tls.cert_file = certificates().client.cert;
  hc.tls.key_file = certificates().client.key;
  CHECK(probe_once(io, hc, server.address()).passed);
}

TEST_CASE("the bearer token is read from its file, trimmed, and sent") {
  boost::asio::io_context io;
  auto options = tls_server(certificates().server);
  options.require_token = "s3cr3t.token";
  test_server server(io, options);

  const auto without = probe_once(io, https_check(), server.address());
  CHECK(without.reason == down_reason::http_status);
  CHECK(without.detail == "401");

  auto hc = https_check();
  hc.bearer_token_file = certificates().dir.write("token", "  s3cr3t.token\n\n");
  CHECK(probe_once(io, hc, server.address()).passed);
  CHECK(server.log().requests.back()["Authorization"] == "Bearer s3cr3t.token");
}

TEST_CASE("a response over the cap fails as too large") {
  boost::asio::io_context io;
  auto options = tls_server(certificates().server);
  options.body = std::string(max_response_body + 1, 'x');
  test_server server(io, options);
  const auto r = probe_once(io, https_check(), server.address());
  CHECK(r.reason == down_reason::response_too_large);

  options.body = std::string(max_response_body, 'x');
  test_server at_cap(io, options);
  CHECK(probe_once(io, https_check(), at_cap.address()).passed);
}

TEST_CASE("http and tcp probes") {
  boost::asio::io_context io;
  server_options options;
  options.tls = false;
  options.status = 503;
  test_server server(io, options);
  auto hc = https_check();
  hc.protocol = check_protocol::http;
  hc.path = "/healthz";
  const auto r = probe_once(io, hc, server.address());
  CHECK(r.reason == down_reason::http_status);
  CHECK(r.detail == "503");
  CHECK(server.log().requests.at(0).target() == "/healthz");

  hc.protocol = check_protocol::tcp;
  silent_listener silent(io);
  CHECK(probe_once(io, hc, silent.address()).passed);
}

TEST_CASE("a plain HTTP server fails the TLS handshake") {
  boost::asio::io_context io;
  server_options options;
  options.tls = false;
  test_server server(io, options);
  const auto r = probe_once(io, https_check(), server.address());
  CHECK(r.reason == down_reason::tls_handshake);
  CHECK_FALSE(r.detail.empty());
}

TEST_CASE("health_check.port overrides the server's port") {
  boost::asio::io_context io;
  test_server server(io, tls_server(certificates().server));
  closed_port closed(io);
  auto hc = https_check();
  hc.port = server.address().port();
  CHECK(probe_once(io, hc, closed.address()).passed);
}

TEST_CASE("a cancelled probe never calls back and leaves no work behind") {
  boost::asio::io_context io;
  bool called = false;
  {
    silent_listener silent(io);
    auto p = start_probe(io, make_probe_spec(https_check()), silent.address(), "127.0.0.1",
                         [&](const probe_result&) { called = true; });
    io.run_for(20ms);
    p->cancel();
  }
  const auto start = std::chrono::steady_clock::now();
  io.restart();
  io.run_for(3s);  // returns early once no work is left
  CHECK(io.stopped());
  CHECK(std::chrono::steady_clock::now() - start < 500ms);  // before the 1 s probe timeout
  CHECK_FALSE(called);
}

TEST_CASE("make_probe_spec rejects files it cannot load") {
  auto hc = https_check();
  hc.bearer_token_file = "/nonexistent/token";
  CHECK_THROWS_WITH(make_probe_spec(hc), Catch::Contains("bearer_token_file /nonexistent/token"));

  hc = https_check();
  hc.tls.ca_file = "/nonexistent/ca.crt";
  CHECK_THROWS_WITH(make_probe_spec(hc), Catch::Contains("tls.ca_file"));

  hc = https_check();
  hc.tls.cert_file = certificates().client.cert;
  hc.tls.key_file = certificates().server.key;
  CHECK_THROWS_WITH(make_probe_spec(hc), Catch::Contains("key values mismatch"));

  hc = https_check();
  hc.bearer_token_file = certificates().dir.write("blank", " \n");
  CHECK_THROWS_WITH(make_probe_spec(hc), Catch::Contains("is empty"));

  // A token goes into a header line: a line break would smuggle in a header of its own.
  hc.bearer_token_file = certificates().dir.write("two-lines", "s3cr3t\r\nX-Evil: 1\n");
  CHECK_THROWS_WITH(make_probe_spec(hc), Catch::Contains("contains a line break"));
  hc.bearer_token_file = certificates().dir.write("huge", std::string(16 * 1024 + 1, 'a'));
  CHECK_THROWS_WITH(make_probe_spec(hc), Catch::Contains("is over 16 KiB"));
  hc.bearer_token_file = certificates().dir.write("max", std::string(16 * 1024, 'a') + "\n");
  CHECK_NOTHROW(make_probe_spec(hc));
}
