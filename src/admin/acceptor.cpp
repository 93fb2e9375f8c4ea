#include "acceptor.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include "connection.hpp"
#include "cplb/core/asio_endpoint.hpp"
#include "cplb/core/log.hpp"

namespace cplb::admin {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

/// How long accepting pauses after an accept error (out of descriptors, ...).
constexpr std::chrono::milliseconds accept_retry{100};

}  // namespace

acceptor::acceptor(asio::io_context& io, std::shared_ptr<shared_state> state)
    : socket_(io), retry_timer_(io), state_(std::move(state)) {}

std::shared_ptr<acceptor> acceptor::open(asio::io_context& io, const socket_address& address,
                                         std::shared_ptr<shared_state> state, error_code& ec,
                                         std::string& error) {
  auto l = std::make_shared<acceptor>(io, std::move(state));
  const tcp::endpoint ep = to_endpoint(address);
  auto failed = [&](const char* step) {
    error = std::string(step) + ": " + ec.message();
    return nullptr;
  };
  l->socket_.open(ep.protocol(), ec);
  if (ec) return failed("open");
  l->socket_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return failed("set SO_REUSEADDR");
  l->socket_.bind(ep, ec);
  if (ec) return failed("bind");
  l->socket_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return failed("listen");
  return l;
}

std::shared_ptr<acceptor> acceptor::adopt(asio::io_context& io, int fd, std::shared_ptr<shared_state> state,
                                          error_code& ec) {
  sockaddr_storage local{};
  socklen_t size = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) != 0) {
    ec.assign(errno, boost::system::system_category());
    return nullptr;
  }
  auto l = std::make_shared<acceptor>(io, std::move(state));
  l->socket_.assign(local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  return ec ? nullptr : l;
}

void acceptor::start() { accept(); }

void acceptor::close() {
  error_code ignored;
  socket_.close(ignored);
  retry_timer_.cancel();
}

socket_address acceptor::local_address() const {
  error_code ec;
  const tcp::endpoint ep = socket_.local_endpoint(ec);
  return socket_address::from_sockaddr(ep.data(), static_cast<socklen_t>(ep.size()));
}

void acceptor::accept() {
  socket_.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void acceptor::on_accept(const error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !socket_.is_open()) return;
  if (ec) {
    log::warn("admin accept failed", {{"error", ec.message()}});
    retry_timer_.expires_after(accept_retry);
    retry_timer_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
      if (!wait_ec) self->accept();
    });
    return;
  }
  if (state_->connections.size() >= state_->bounds.max_connections) {
    log::debug("admin connection refused: too many open",
               {{"limit", state_->bounds.max_connections}});
    error_code ignored;
    socket.close(ignored);
  } else {
    std::make_shared<connection>(std::move(socket), state_)->start();
  }
  accept();
}

}  // namespace cplb::admin
