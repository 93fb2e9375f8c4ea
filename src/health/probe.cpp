#include "cplb/health/probe.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cstring>
#include <optional>
#include <utility>

#include "cplb/core/asio_endpoint.hpp"
#include "cplb/health/response_check.hpp"

namespace cplb::health {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace http = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using backend::down_reason;

/// True for an IPv4 or IPv6 literal (verified as an IP SAN, never sent as SNI).
bool is_ip_literal(const std::string& name) {
  error_code ec;
  asio::ip::make_address(name, ec);
  return !ec;
}

/// OpenSSL's reason for a TLS error, e.g. `tlsv13 alert certificate required`.
std::string tls_error_text(const error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    if (const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value())))
      return reason;
  }
  if (ec == ssl::error::stream_truncated) return "connection closed without a TLS close_notify";
  return ec.message();
}

/// One probe: connect, then for http(s) [TLS handshake,] GET, read the response, [TLS shutdown,]
/// close. One timer bounds the whole probe; when it fires the socket is closed, the pending step
/// fails and the verdict is `timeout`.
class session final : public probe, public std::enable_shared_from_this<session> {
 public:
  session(asio::io_context& io, std::shared_ptr<const probe_spec> spec,
          const socket_address& address, const std::string& host, probe_handler done)
      : spec_(std::move(spec)),
        endpoint_(to_endpoint(spec_->port != 0 ? address.with_port(spec_->port) : address)),
        host_(host),
        done_(std::move(done)),
        socket_(io),
        deadline_(io),
        buffer_(max_response_header + max_response_body) {}

  /// Arms the deadline and starts connecting.
  void start() {
    started_ = std::chrono::steady_clock::now();
    deadline_.expires_after(spec_->timeout);
    deadline_.async_wait([self = shared_from_this()](error_code ec) { self->on_deadline(ec); });
    socket_.async_connect(endpoint_,
                          [self = shared_from_this()](error_code ec) { self->on_connect(ec); });
  }

  void cancel() override {
    cancelled_ = true;
    done_ = nullptr;
    deadline_.cancel();
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  void on_deadline(error_code ec) {
    if (ec || cancelled_ || delivered_) return;
    timed_out_ = true;
    error_code ignored;
    socket_.close(ignored);
  }

  void on_connect(error_code ec) {
    if (cancelled_) return;
    if (!ec) result_.connected = true;
    if (timed_out_) return fail_timeout();
    if (ec == asio::error::connection_refused) return fail(down_reason::refused, ec.message());
    if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
        ec == asio::error::no_memory || ec == std::errc::too_many_files_open_in_system) {
      result_.local_failure = true;
      return fail(down_reason::connect_failed, "connect: " + ec.message());
    }
    if (ec) return fail(down_reason::connect_failed, "connect: " + ec.message());
    switch (spec_->protocol) {
      case config::check_protocol::tcp:
        return pass();
      case config::check_protocol::http:
        return send_request();
      case config::check_protocol::https:
        return handshake();
    }
  }

  /// The name sent as SNI and verified: tls.server_name, or the server's host.
  const std::string& tls_name() const {
    return spec_->server_name.empty() ? host_ : spec_->server_name;
  }

  void handshake() {
    step_ = "tls handshake";
    tls_.emplace(socket_, *spec_->tls);
    SSL* ssl = tls_->native_handle();
    const std::string& name = tls_name();
    const bool ip = is_ip_literal(name);
    bool ok = ip || SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
    if (spec_->verify) {
      ok = ok && (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str())
                     : SSL_set1_host(ssl, name.c_str())) == 1;
    }
    if (!ok) return fail(down_reason::tls_handshake, "cannot use \"" + name + "\" as the TLS name");
    tls_->async_handshake(ssl::stream_base::client,
                          [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(error_code ec) {
    if (cancelled_) return;
    if (timed_out_) return fail_timeout();
    if (ec) return fail(down_reason::tls_handshake, handshake_error(ec));
    send_request();
  }

  /// The verify error when the peer's certificate was rejected, else OpenSSL's reason.
  std::string handshake_error(const error_code& ec) {
    if (spec_->verify) {
      const long verdict = SSL_get_verify_result(tls_->native_handle());
      if (verdict != X509_V_OK) return X509_verify_cert_error_string(verdict);
    }
    return tls_error_text(ec);
  }

  /// `name:port` as the Host header, with IPv6 literals in brackets.
  std::string host_header() const {
    std::string name = spec_->protocol == config::check_protocol::https ? tls_name() : host_;
    if (name.find(':') != std::string::npos) name = "[" + name + "]";
    return name + ":" + std::to_string(endpoint_.port());
  }

  void send_request() {
    step_ = "request";
    request_.method(http::verb::get);
    request_.target(spec_->path);
    request_.version(11);
    request_.set(http::field::host, host_header());
    request_.set(http::field::user_agent, "cplb-health-check");
    request_.set(http::field::accept, "*/*");
    request_.set(http::field::connection, "close");
    for (const auto& [name, value] : spec_->headers) request_.set(name, value);
    with_stream([&](auto& stream) {
      http::async_write(stream, request_,
                        [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
    });
  }

  /// Calls `f` with the TLS stream, or with the plain socket when the check is plain HTTP.
  template <typename F>
  void with_stream(F&& f) {
    if (tls_) f(*tls_);
    else f(socket_);
  }

  void on_write(error_code ec) {
    if (cancelled_) return;
    if (timed_out_) return fail_timeout();
    if (ec) return fail_io("request", ec);
    step_ = "response";
    parser_.emplace();
    limit_response(*parser_);
    // The header first: Beast 1.74 loses a Content-Length over body_limit in the eager parsing of
    // http::async_read, not in that of async_read_header.
    with_stream([&](auto& stream) {
      http::async_read_header(stream, buffer_, *parser_,
                              [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
    });
  }

  void on_header(error_code ec) {
    if (cancelled_) return;
    if (timed_out_) return fail_timeout();
    if (ec) return fail_io("response", ec);
    with_stream([&](auto& stream) {
      http::async_read(stream, buffer_, *parser_,
                       [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
    });
  }

  void on_read(error_code ec) {
    if (cancelled_) return;
    if (timed_out_) return fail_timeout();
    if (ec) return fail_io("response", ec);
    response_read_ = true;
    auto verdict = judge_status(parser_->get().result_int(), spec_->expect_status);
    if (!verdict.passed()) return fail(verdict.reason, std::move(verdict.detail));
    pass();
  }

  /// The verdict on a failed read or write of `what` (`request`, `response`).
  void fail_io(const char* what, const error_code& ec) {
    if (auto verdict = judge_io_error(what, ec))
      return fail(verdict->reason, std::move(verdict->detail));
    if (ec.category() == asio::error::get_ssl_category())
      return fail(down_reason::tls_handshake, tls_error_text(ec));
    fail(down_reason::connect_failed, std::string(what) + ": " + ec.message());
  }

  void fail_timeout() {
    fail(down_reason::timeout,
         std::string(step_) + " did not finish within " + format_duration(spec_->timeout));
  }

  void fail(down_reason reason, std::string detail) {
    result_.passed = false;
    result_.reason = reason;
    result_.detail = std::move(detail);
    conclude();
  }

  void pass() {
    result_.passed = true;
    result_.reason = down_reason::none;
    conclude();
  }

  /// The verdict is in: close the connection (TLS: a shutdown under the same deadline once a whole
  /// response was read), then hand the result over.
  void conclude() {
    result_.took = std::chrono::steady_clock::now() - started_;
    if (tls_ && response_read_ && !timed_out_) {
      tls_->async_shutdown([self = shared_from_this()](error_code) { self->deliver(); });
      return;
    }
    deliver();
  }

  void deliver() {
    if (cancelled_ || delivered_) return;
    delivered_ = true;
    deadline_.cancel();
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(result_);
  }

  std::shared_ptr<const probe_spec> spec_;
  tcp::endpoint endpoint_;
  std::string host_;
  probe_handler done_;
  tcp::socket socket_;
  std::optional<ssl::stream<tcp::socket&>> tls_;  ///< over socket_, https only
  asio::steady_timer deadline_;
  boost::beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  std::optional<response_parser> parser_;
  std::chrono::steady_clock::time_point started_;
  const char* step_ = "connect";  ///< what a timeout interrupted
  probe_result result_;
  bool timed_out_ = false;
  bool response_read_ = false;
  bool cancelled_ = false;
  bool delivered_ = false;
};

}  // namespace

std::shared_ptr<probe> start_probe(asio::io_context& io, std::shared_ptr<const probe_spec> spec,
                                   const socket_address& address, const std::string& host,
                                   probe_handler done) {
  auto p = std::make_shared<session>(io, std::move(spec), address, host, std::move(done));
  p->start();
  return p;
}

}  // namespace cplb::health
