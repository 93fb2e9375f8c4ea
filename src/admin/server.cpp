#include "cplb/admin/server.hpp"

#include <fcntl.h>

#include <stdexcept>
#include <utility>

#include "acceptor.hpp"
#include "cplb/core/log.hpp"

namespace cplb::admin {

class server::impl {
 public:
  impl(boost::asio::io_context& io, const socket_address& listen, handlers h, limits l)
      : io_(io), address_(listen), state_(std::make_shared<shared_state>()) {
    state_->answers = std::move(h);
    state_->bounds = l;
  }

  /// Opens an acceptor on `address`; null with `ec` and `error` on failure.
  std::shared_ptr<acceptor> open(const socket_address& address, boost::system::error_code& ec,
                                 std::string& error) const {
    if (inherited_fd_ >= 0 && address == inherited_address_) {
      auto a = acceptor::adopt(io_, std::exchange(inherited_fd_, -1), state_, ec);
      if (a) return a;
      error = "adopt the previous process's socket: " + ec.message();
      return nullptr;
    }
    return acceptor::open(io_, address, state_, ec, error);
  }

  /// Serves from `next` instead of the current acceptor.
  void switch_to(std::shared_ptr<acceptor> next, const socket_address& address) {
    if (acceptor_) acceptor_->close();
    acceptor_ = std::move(next);
    acceptor_->start();
    address_ = address;
  }

  boost::asio::io_context& io_;
  socket_address address_;               ///< as configured (port 0 stays 0)
  std::shared_ptr<shared_state> state_;
  std::shared_ptr<acceptor> acceptor_;   ///< null while stopped
  socket_address inherited_address_;
  mutable int inherited_fd_ = -1;        ///< handed over, until the first bind of its address
};

server::server(boost::asio::io_context& io, const socket_address& listen, handlers h, limits l)
    : impl_(std::make_unique<impl>(io, listen, std::move(h), l)) {}

server::~server() { stop(); }

void server::start() {
  boost::system::error_code ec;
  std::string error;
  auto a = impl_->open(impl_->address_, ec, error);
  if (!a)
    throw std::runtime_error("cannot listen on " + impl_->address_.to_string() +
                             " for the admin HTTP server: " + error);
  impl_->switch_to(std::move(a), impl_->address_);
}

int server::listening_fd() const {
  return impl_->acceptor_ ? ::fcntl(impl_->acceptor_->native_handle(), F_DUPFD_CLOEXEC, 0) : -1;
}

void server::inherit_listener(const socket_address& address, int fd) {
  impl_->inherited_address_ = address;
  impl_->inherited_fd_ = fd;
}

void server::stop() {
  if (impl_->acceptor_) impl_->acceptor_->close();
  impl_->acceptor_.reset();
  close_connections(*impl_->state_);
}

bool server::prepare_rebind(const socket_address& listen, prepared_rebind& out,
                            std::string& error) const {
  const impl& m = *impl_;
  out = prepared_rebind{};
  out.address_ = listen;
  if (m.acceptor_ && listen == m.address_) return true;
  boost::system::error_code ec;
  out.socket_ = m.open(listen, ec, error);
  if (out.socket_) return true;
  if (ec == boost::asio::error::address_in_use && m.acceptor_ &&
      listen.port() == m.acceptor_->local_address().port()) {
    out.bind_at_commit_ = true;  // overlaps the running socket: see commit_rebind
    return true;
  }
  error = "cannot listen on " + listen.to_string() + " for the admin HTTP server: " + error;
  return false;
}

void server::commit_rebind(prepared_rebind prepared) noexcept {
  impl& m = *impl_;
  if (prepared.socket_) return m.switch_to(std::move(prepared.socket_), prepared.address_);
  if (!prepared.bind_at_commit_) return;
  // The same port on another IP (a wildcard overlaps a specific one): let the old socket go
  // first, and take it back if the new address still cannot be bound.
  const socket_address old = m.acceptor_->local_address();
  m.acceptor_->close();
  m.acceptor_.reset();
  boost::system::error_code ec;
  std::string error;
  if (auto next = m.open(prepared.address_, ec, error)) return m.switch_to(std::move(next), prepared.address_);
  std::string reopen_error;
  auto back = m.open(old, ec, reopen_error);
  log::error("reload: the admin server stays on its old address",
             {{"address", prepared.address_.to_string()}, {"error", error}});
  if (back) return m.switch_to(std::move(back), m.address_);
  log::error("the admin server's old address could not be bound again",
             {{"address", old.to_string()}, {"error", reopen_error}});
}

socket_address server::local_address() const {
  return impl_->acceptor_ ? impl_->acceptor_->local_address() : impl_->address_;
}

std::size_t server::open_connections() const { return impl_->state_->connections.size(); }

}  // namespace cplb::admin
