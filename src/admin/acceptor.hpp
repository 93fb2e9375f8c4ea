#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>

#include "cplb/core/socket_address.hpp"
#include "shared_state.hpp"

namespace cplb::admin {

/// One bound admin socket and its accept loop; each accepted client becomes a connection, unless
/// `limits::max_connections` are open already, in which case it is closed at once.
class acceptor : public std::enable_shared_from_this<acceptor> {
 public:
  /// Opens, binds and listens on `address`; null with `ec` and `error` (the failed step and
  /// why) when a step fails.
  static std::shared_ptr<acceptor> open(boost::asio::io_context& io, const socket_address& address,
                                        std::shared_ptr<shared_state> state,
                                        boost::system::error_code& ec, std::string& error);

  /// Serves from `fd`, a listening socket handed over by the previous process (binary upgrade);
  /// null with `ec` when it is not one.
  static std::shared_ptr<acceptor> adopt(boost::asio::io_context& io, int fd,
                                         std::shared_ptr<shared_state> state, boost::system::error_code& ec);

  /// Use open().
  acceptor(boost::asio::io_context& io, std::shared_ptr<shared_state> state);

  /// Starts accepting.
  void start();
  /// Stops accepting and releases the address; open connections stay.
  void close();
  /// The address bound.
  socket_address local_address() const;
  /// The listening descriptor (still owned by the acceptor).
  int native_handle() { return socket_.native_handle(); }

 private:
  void accept();
  void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor socket_;
  boost::asio::steady_timer retry_timer_;
  std::shared_ptr<shared_state> state_;
};

}  // namespace cplb::admin
