#pragma once
#include <array>
#include <cstddef>
#include <memory>
#include <optional>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "http_reply.hpp"
#include "server_state.hpp"
#include "streams.hpp"
#include "watch_stream.hpp"

namespace cplb::fake_apiserver {

/// One HTTP/1.1 connection (plain or TLS) with keep-alive, answered by a request handler; a watch
/// takes the connection over for good.
template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  /// Takes over an accepted connection; `guard` counts it while the session lives.
  http_session(Stream stream, request_handler handler, connection_guard guard)
      : stream_(std::move(stream)), handler_(std::move(handler)), guard_(std::move(guard)) {}

  /// Runs the TLS handshake if any, then the request loop.
  void start() {
    async_open(stream_, [self = this->shared_from_this()](boost::system::error_code ec) {
      if (ec) return;  // a failed handshake (e.g. no client certificate) ends the session
      self->read_request();
    });
  }

 private:
  /// Parses one request.
  using request_parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  /// Largest request body read; the fake apiserver needs none.
  static constexpr std::size_t body_limit = 64 * 1024;

  /// Reads the next request of the connection.
  void read_request() {
    parser_.emplace();
    parser_->body_limit(body_limit);
    boost::beast::http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
          if (ec) return;  // EOF, reset or bad request: the session ends
          self->on_request();
        });
  }

  /// Answers the request just read, as the handler says.
  void on_request() {
    reply answer = handler_(parser_->get());
    switch (answer.action) {
      case reply_action::hang:
        return discard();
      case reply_action::close:
        return drop(stream_);
      case reply_action::watch:
        return std::make_shared<watch_stream<Stream>>(stream_, this->shared_from_this(),
                                                      std::move(answer.feed))
            ->start(std::move(answer.message));
      case reply_action::respond:
        break;
    }
    response_ = std::move(answer.message);
    boost::beast::http::async_write(
        stream_, response_, [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
          if (ec) return;
          if (self->response_.keep_alive()) return self->read_request();
          async_finish(self->stream_, [self](boost::system::error_code) { self->discard(); });
        });
  }

  /// Reads and throws away whatever comes until the client closes, so the session ends with it.
  void discard() {
    stream_.async_read_some(boost::asio::buffer(sink_),
                            [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                              if (!ec) self->discard();
                            });
  }

  Stream stream_;                         ///< the connection
  request_handler handler_;               ///< answers requests
  connection_guard guard_;                ///< counts the connection
  boost::beast::flat_buffer buffer_;      ///< bytes read ahead
  std::optional<request_parser> parser_;  ///< current request
  response response_;                     ///< response being written
  std::array<char, 4096> sink_{};         ///< target of discard()
};

}  // namespace cplb::fake_apiserver
