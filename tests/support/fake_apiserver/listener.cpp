#include "listener.hpp"

#include <chrono>
#include <iostream>

namespace cplb::fake_apiserver {

namespace {

/// How long to wait before accepting again after an error such as EMFILE.
constexpr std::chrono::milliseconds accept_retry_delay{100};

}  // namespace

listener::listener(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& at,
                   accept_handler on_accept)
    : acceptor_(io, at, /*reuse_addr=*/true), retry_timer_(io), on_accept_(std::move(on_accept)) {}

boost::asio::ip::tcp::endpoint listener::local_endpoint() const { return acceptor_.local_endpoint(); }

void listener::start() { accept(); }

void listener::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_timer_.cancel();
}

void listener::accept() {
  acceptor_.async_accept(
      [self = shared_from_this()](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
        if (ec == boost::asio::error::operation_aborted) return;
        if (ec) {
          std::cerr << "fake-apiserver: accept: " << ec.message() << '\n';
          self->retry_timer_.expires_after(accept_retry_delay);
          self->retry_timer_.async_wait([self](boost::system::error_code wait_ec) {
            if (!wait_ec) self->accept();
          });
          return;
        }
        self->on_accept_(std::move(socket));
        self->accept();
      });
}

}  // namespace cplb::fake_apiserver
