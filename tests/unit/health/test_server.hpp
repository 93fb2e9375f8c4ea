#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cplb/core/socket_address.hpp"

// Peers for probe tests, on loopback and driven by the test's own io_context.
namespace cplb::health::testing {

/// How the test server answers.
struct server_options {
  std::string listen_ip = "127.0.0.1";
  bool tls = true;
  std::string cert_file;  ///< its certificate (with tls)
  std::string key_file;
  std::string client_ca_file;  ///< when set, a client certificate issued by it is required
  unsigned status = 200;
  std::string body = "ok";
  std::string require_token;  ///< when set, 401 unless `Authorization: Bearer <token>`
};

/// What the test server saw.
struct server_log {
  std::vector<boost::beast::http::request<boost::beast::http::string_body>> requests;
  std::vector<std::string> server_names;  ///< the SNI of each handshake ("" without)
  std::vector<std::string> handshake_errors;
  int clean_tls_closes = 0;  ///< close_notify sent and received
};

/// A small HTTP(S) server answering every request with one response, then closing.
class test_server {
 public:
  test_server(boost::asio::io_context& io, server_options options);
  ~test_server();
  test_server(const test_server&) = delete;
  test_server& operator=(const test_server&) = delete;
  /// Where it listens.
  socket_address address() const;
  /// What it saw so far.
  const server_log& log() const;

  struct state;

 private:
  std::shared_ptr<state> state_;
};

/// A socket that listens but never accepts: connects succeed, nothing ever answers.
class silent_listener {
 public:
  explicit silent_listener(boost::asio::io_context& io);
  /// Where it listens.
  socket_address address() const;

 private:
  boost::asio::ip::tcp::acceptor acceptor_;
};

/// Runs `io` until `done()` holds; fails the test after 5 s.
void run_until(boost::asio::io_context& io, const std::function<bool()>& done);

/// A bound port nobody listens on (kept bound, so nothing else takes it): connects are refused.
class closed_port {
 public:
  explicit closed_port(boost::asio::io_context& io);
  /// The refusing address.
  socket_address address() const;

 private:
  boost::asio::ip::tcp::acceptor socket_;
};

}  // namespace cplb::health::testing
