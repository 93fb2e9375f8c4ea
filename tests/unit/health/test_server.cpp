#include "test_server.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>

namespace cplb::health::testing {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace http = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;

tcp::endpoint loopback(const std::string& ip = "127.0.0.1") {
  return {asio::ip::make_address(ip), 0};
}

socket_address to_address(const tcp::endpoint& e) {
  return socket_address::from_sockaddr(e.data(), e.size());
}

}  // namespace

struct test_server::state {
  state(asio::io_context& io, server_options o)
      : options(std::move(o)), acceptor(io, loopback(options.listen_ip)) {
    if (!options.tls) return;
    tls.emplace(ssl::context::tls_server);
    tls->use_certificate_chain_file(options.cert_file);
    tls->use_private_key_file(options.key_file, ssl::context::pem);
    if (!options.client_ca_file.empty()) {
      tls->load_verify_file(options.client_ca_file);
      tls->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
  }
  server_options options;
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor;
  server_log log;
};

namespace {

/// One accepted connection: [TLS handshake,] one request, one response, close.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(std::shared_ptr<test_server::state> s, tcp::socket socket)
      : state_(std::move(s)), socket_(std::move(socket)) {}

  void start() {
    if (!state_->tls) return read();
    tls_.emplace(socket_, *state_->tls);
    tls_->async_handshake(ssl::stream_base::server,
                          [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
  }

 private:
  template <typename Op>
  void with_stream(Op op) {
    if (tls_) {
      op(*tls_);
    } else {
      op(socket_);
    }
  }

  void on_handshake(error_code ec) {
    if (ec) {
      state_->log.handshake_errors.push_back(ec.message());
      return close();
    }
    const char* sni = SSL_get_servername(tls_->native_handle(), TLSEXT_NAMETYPE_host_name);
    state_->log.server_names.emplace_back(sni ? sni : "");
    read();
  }

  void read() {
    with_stream([this](auto& stream) {
      http::async_read(
          stream, buffer_, request_,
          [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
    });
  }

  void on_read(error_code ec) {
    if (ec) return close();
    state_->log.requests.push_back(request_);
    const auto& o = state_->options;
    const bool authorized = o.require_token.empty() ||
                            request_[http::field::authorization] == "Bearer " + o.require_token;
    response_.result(authorized ? o.status : 401);
    response_.version(11);
    response_.body() = o.body;
    response_.keep_alive(false);
    response_.prepare_payload();
    with_stream([this](auto& stream) {
      http::async_write(stream, response_, [self = shared_from_this()](error_code ec, std::size_t) {
        self->on_write(ec);
      });
    });
  }

  void on_write(error_code ec) {
    if (ec || !tls_) return close();
    tls_->async_shutdown([self = shared_from_this()](error_code ec) {
      if (!ec) ++self->state_->log.clean_tls_closes;
      self->close();
    });
  }

  void close() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
  }

  std::shared_ptr<test_server::state> state_;
  tcp::socket socket_;
  std::optional<ssl::stream<tcp::socket&>> tls_;
  boost::beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

void accept(const std::shared_ptr<test_server::state>& s) {
  s->acceptor.async_accept([s](error_code ec, tcp::socket socket) {
    if (ec) return;
    std::make_shared<connection>(s, std::move(socket))->start();
    accept(s);
  });
}

}  // namespace

test_server::test_server(asio::io_context& io, server_options options)
    : state_(std::make_shared<state>(io, std::move(options))) {
  accept(state_);
}

test_server::~test_server() {
  error_code ignored;
  state_->acceptor.close(ignored);
}

socket_address test_server::address() const {
  return to_address(state_->acceptor.local_endpoint());
}

const server_log& test_server::log() const { return state_->log; }

silent_listener::silent_listener(asio::io_context& io) : acceptor_(io, loopback()) {}

socket_address silent_listener::address() const { return to_address(acceptor_.local_endpoint()); }

closed_port::closed_port(asio::io_context& io) : socket_(io) {
  socket_.open(tcp::v4());
  socket_.bind(loopback());
}

socket_address closed_port::address() const { return to_address(socket_.local_endpoint()); }

void run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < limit) io.run_one_until(limit);
  REQUIRE(done());
}

}  // namespace cplb::health::testing
