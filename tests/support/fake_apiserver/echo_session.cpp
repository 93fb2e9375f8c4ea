#include "echo_session.hpp"

#include <boost/asio/write.hpp>

namespace cplb::fake_apiserver {

echo_session::echo_session(boost::asio::ip::tcp::socket socket, std::string greeting, connection_guard guard)
    : socket_(std::move(socket)), greeting_(std::move(greeting)), guard_(std::move(guard)) {}

void echo_session::start() {
  if (greeting_.empty()) return read();
  boost::asio::async_write(socket_, boost::asio::buffer(greeting_),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             if (!ec) self->read();
                           });
}

void echo_session::read() {
  socket_.async_read_some(boost::asio::buffer(buffer_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t size) {
                            if (ec == boost::asio::error::eof) {
                              self->socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
                              return;
                            }
                            if (!ec) self->write(size);
                          });
}

void echo_session::write(std::size_t size) {
  boost::asio::async_write(socket_, boost::asio::buffer(buffer_.data(), size),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             if (!ec) self->read();
                           });
}

}  // namespace cplb::fake_apiserver
