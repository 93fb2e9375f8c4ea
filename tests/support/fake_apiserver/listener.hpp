#pragma once
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace cplb::fake_apiserver {

/// Accepts connections on one endpoint and hands each socket to a callback.
class listener : public std::enable_shared_from_this<listener> {
 public:
  /// Receives each accepted socket.
  using accept_handler = std::function<void(boost::asio::ip::tcp::socket)>;

  /// Binds and listens at once; throws boost::system::system_error when it cannot (startup only).
  listener(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& at, accept_handler on_accept);

  /// The bound endpoint, with the real port when port 0 was asked for.
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  /// Starts accepting.
  void start();

  /// Stops accepting; open connections are not touched.
  void close();

 private:
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;  ///< the listening socket
  boost::asio::steady_timer retry_timer_;    ///< pause after a failed accept (e.g. out of descriptors)
  accept_handler on_accept_;                 ///< receives accepted sockets
};

}  // namespace cplb::fake_apiserver
