#pragma once
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>

namespace cplb::fake_apiserver {

/// A plain-TCP connection.
using plain_stream = boost::asio::ip::tcp::socket;
/// A TLS connection over TCP.
using tls_stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

/// Makes a plain connection ready for HTTP: nothing to do.
template <class Handler>
void async_open(plain_stream& stream, Handler&& handler) {
  boost::asio::post(stream.get_executor(), [h = std::forward<Handler>(handler)]() mutable { h({}); });
}

/// Makes a TLS connection ready for HTTP: the server handshake.
template <class Handler>
void async_open(tls_stream& stream, Handler&& handler) {
  stream.async_handshake(boost::asio::ssl::stream_base::server, std::forward<Handler>(handler));
}

/// Ends our side of a plain connection: a FIN.
template <class Handler>
void async_finish(plain_stream& stream, Handler&& handler) {
  boost::system::error_code ec;
  stream.shutdown(plain_stream::shutdown_send, ec);
  boost::asio::post(stream.get_executor(), [h = std::forward<Handler>(handler), ec]() mutable { h(ec); });
}

/// Ends our side of a TLS connection: close_notify.
template <class Handler>
void async_finish(tls_stream& stream, Handler&& handler) {
  stream.async_shutdown(std::forward<Handler>(handler));
}

/// Closes the TCP connection under `stream` at once, without any TLS goodbye.
template <class Stream>
void drop(Stream& stream) {
  boost::system::error_code ec;
  stream.lowest_layer().shutdown(plain_stream::shutdown_both, ec);
  stream.lowest_layer().close(ec);
}

}  // namespace cplb::fake_apiserver
