#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <memory>
#include <optional>

#include "router.hpp"
#include "shared_state.hpp"

namespace cplb::admin {

/// One admin client: reads requests (bounded header, deadline), answers each, keeps the
/// connection alive when the client asks, and closes it gracefully otherwise.
class connection : public std::enable_shared_from_this<connection> {
 public:
  /// Takes an accepted socket; counts in `state` until destroyed.
  connection(boost::asio::ip::tcp::socket socket, std::shared_ptr<shared_state> state);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Reads the first request.
  void start();
  /// Closes the socket: pending operations end with operation_aborted.
  void stop();

 private:
  void read();
  void on_read(const boost::beast::error_code& ec);
  void send(reply r, unsigned version, bool head, bool keep_alive);
  void on_write(const boost::beast::error_code& ec);
  void linger();
  void discard();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  std::array<char, 4096> discard_{};  ///< what a closing client still sends is read into here
  std::size_t discarded_ = 0;
  std::shared_ptr<shared_state> state_;
};

}  // namespace cplb::admin
