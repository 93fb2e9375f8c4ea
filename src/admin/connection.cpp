#include "connection.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace cplb::admin {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::asio::ip::tcp;

namespace {

/// At most this much of what a client sends after its last answer is read before closing.
constexpr std::size_t linger_limit = 64 * 1024;

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

}  // namespace

connection::connection(tcp::socket socket, std::shared_ptr<shared_state> state)
    : stream_(std::move(socket)),
      // Room beyond the header limit, so an oversized header hits that limit (431) first.
      buffer_(2 * state->bounds.header_limit),
      state_(std::move(state)) {
  state_->connections.insert(this);
}

connection::~connection() { state_->connections.erase(this); }

void close_connections(shared_state& state) {
  for (connection* c : state.connections) c->stop();
}

void connection::start() { read(); }

void connection::stop() { stream_.close(); }

void connection::read() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(state_->bounds.header_limit));
  stream_.expires_after(state_->bounds.io_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                     self->on_read(ec);
                   });
}

void connection::on_read(const beast::error_code& ec) {
  if (ec == http::error::end_of_stream) return linger();
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
    return send(text(431, "request header too large\n"), 11, false, false);
  if (ec && is_parse_error(ec)) return send(text(400, "bad request\n"), 11, false, false);
  if (ec) return;  // timeout, reset or stop(): the socket closes with this object

  const auto& req = parser_->get();
  const std::string_view method(req.method_string().data(), req.method_string().size());
  const std::string_view target(req.target().data(), req.target().size());
  send(route(method, target, state_->answers), req.version(), req.method() == http::verb::head,
       req.keep_alive());
}

void connection::send(reply r, unsigned version, bool head, bool keep_alive) {
  response_ = {};
  response_.version(version);
  response_.result(r.status);
  response_.set(http::field::content_type, r.content_type);
  response_.set(http::field::cache_control, "no-store");
  if (!r.allow.empty()) response_.set(http::field::allow, r.allow);
  response_.keep_alive(keep_alive);
  if (head) {
    response_.content_length(r.body.size());
  } else {
    response_.body() = std::move(r.body);
    response_.prepare_payload();
  }
  stream_.expires_after(state_->bounds.io_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                      self->on_write(ec);
                    });
}

void connection::on_write(const beast::error_code& ec) {
  if (ec) return;
  if (response_.need_eof()) return linger();
  read();
}

void connection::linger() {
  // Half-close, then read what the client still sends until it closes, so the kernel does not
  // reset the connection (and lose our last answer) over unread data.
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  discard();
}

void connection::discard() {
  if (discarded_ >= linger_limit) return;
  stream_.async_read_some(boost::asio::buffer(discard_),
                          [self = shared_from_this()](const beast::error_code& ec, std::size_t n) {
                            if (ec) return;  // the client closed, the deadline passed, or stop()
                            self->discarded_ += n;
                            self->discard();
                          });
}

}  // namespace cplb::admin
