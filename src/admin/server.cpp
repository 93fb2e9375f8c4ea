#include "cplb/admin/server.hpp"

#include <stdexcept>

#include "listener.hpp"

namespace cplb::admin {

class server::impl {
 public:
  impl(boost::asio::io_context& io, const socket_address& listen, handlers h, limits l)
      : io_(io), address_(listen), state_(std::make_shared<shared_state>()) {
    state_->answers = std::move(h);
    state_->bounds = l;
  }

  /// Opens a listener on `address`; null with `ec` and `error` on failure.
  std::shared_ptr<listener> open(const socket_address& address, boost::system::error_code& ec,
                                 std::string& error) {
    return listener::open(io_, address, state_, ec, error);
  }

  boost::asio::io_context& io_;
  socket_address address_;               ///< as configured (port 0 stays 0)
  std::shared_ptr<shared_state> state_;
  std::shared_ptr<listener> listener_;   ///< null while stopped
};

server::server(boost::asio::io_context& io, const socket_address& listen, handlers h, limits l)
    : impl_(std::make_unique<impl>(io, listen, std::move(h), l)) {}

server::~server() { stop(); }

void server::start() {
  boost::system::error_code ec;
  std::string error;
  auto l = impl_->open(impl_->address_, ec, error);
  if (!l)
    throw std::runtime_error("cannot listen on " + impl_->address_.to_string() +
                             " for the admin HTTP server: " + error);
  impl_->listener_ = std::move(l);
  impl_->listener_->start();
}

void server::stop() {
  if (impl_->listener_) impl_->listener_->close();
  impl_->listener_.reset();
  close_connections(*impl_->state_);
}

bool server::rebind(const socket_address& listen, std::string& error) {
  impl& m = *impl_;
  if (m.listener_ && listen == m.address_) return true;
  boost::system::error_code ec;
  auto next = m.open(listen, ec, error);
  if (!next && ec == boost::asio::error::address_in_use && m.listener_ &&
      listen.port() == m.listener_->local_address().port()) {
    // The same port on another IP (a wildcard overlaps a specific one): let the old socket go
    // first, and take it back if the new address still cannot be bound.
    const socket_address old = m.listener_->local_address();
    m.listener_->close();
    m.listener_.reset();
    next = m.open(listen, ec, error);
    if (!next) {
      std::string reopen_error;
      m.listener_ = m.open(old, ec, reopen_error);
      if (m.listener_)
        m.listener_->start();
      else
        error += "; and the old address " + old.to_string() + " could not be bound again: " +
                 reopen_error;
    }
  }
  if (!next) {
    error = "cannot listen on " + listen.to_string() + " for the admin HTTP server: " + error;
    return false;
  }
  if (m.listener_) m.listener_->close();
  m.listener_ = std::move(next);
  m.listener_->start();
  m.address_ = listen;
  return true;
}

socket_address server::local_address() const {
  return impl_->listener_ ? impl_->listener_->local_address() : impl_->address_;
}

std::size_t server::open_connections() const { return impl_->state_->connections.size(); }

}  // namespace cplb::admin
