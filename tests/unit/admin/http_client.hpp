#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "cplb/core/socket_address.hpp"

// A raw HTTP/1.1 client for the admin server tests: real sockets, driven on the test's
// io_context (which also runs the server), every step bounded in time.
namespace cplb::admin::test {

/// How long any one step may take before the test fails.
inline constexpr std::chrono::seconds step_limit{5};

/// One response as read off the wire.
struct http_response {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  ///< names in lower case
  std::string body;

  /// The value of header `lower_name`, or empty.
  std::string header(const std::string& lower_name) const;
};

/// One client connection.
class http_client {
 public:
  /// Connects to `to`; throws std::runtime_error when it cannot within step_limit.
  http_client(boost::asio::io_context& io, const socket_address& to);

  /// Writes `raw` as is; throws std::runtime_error when it cannot.
  void send(const std::string& raw);
  /// Reads one response (a response to HEAD when `head`); nullopt when the connection ended
  /// or step_limit passed first.
  std::optional<http_response> receive(bool head = false);
  /// Closes the connection from this side.
  void close();
  /// True when the server closes the connection (end of file or reset) within step_limit,
  /// discarding anything it still sends.
  bool wait_closed();

 private:
  /// run_until, and on timeout closes the socket and waits for the aborted handler.
  bool finish(const bool& done);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

/// Runs `io` until `done()` is true; false when step_limit passed first.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done);

/// `GET target` as an HTTP/1.1 request with keep-alive.
std::string get(const std::string& target);

}  // namespace cplb::admin::test
