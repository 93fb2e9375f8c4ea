#include "http_client.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <stdexcept>

namespace cplb::admin::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;

std::string http_response::header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

http_client::http_client(asio::io_context& io, const socket_address& to)
    : io_(io), socket_(io) {
  tcp::endpoint ep;
  std::memcpy(ep.data(), to.data(), to.size());
  ep.resize(to.size());
  bool done = false;
  error_code result;
  socket_.async_connect(ep, [&](const error_code& ec) {
    result = ec;
    done = true;
  });
  if (!finish(done)) throw std::runtime_error("connect to " + to.to_string() + " timed out");
  if (result) throw std::runtime_error("connect to " + to.to_string() + ": " + result.message());
}

void http_client::send(const std::string& raw) {
  bool done = false;
  error_code result;
  asio::async_write(socket_, asio::buffer(raw), [&](const error_code& ec, std::size_t) {
    result = ec;
    done = true;
  });
  if (!finish(done)) throw std::runtime_error("write timed out");
  if (result) throw std::runtime_error("write: " + result.message());
}

std::optional<http_response> http_client::receive(bool head) {
  http::response_parser<http::string_body> parser;
  parser.skip(head);
  bool done = false;
  error_code result;
  http::async_read(socket_, buffer_, parser, [&](const error_code& ec, std::size_t) {
    result = ec;
    done = true;
  });
  if (!finish(done) || result) return std::nullopt;
  const auto& msg = parser.get();
  http_response r;
  r.status = msg.result_int();
  for (const auto& field : msg) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    r.headers[name] = std::string(field.value());
  }
  r.body = msg.body();
  return r;
}

bool http_client::wait_closed() {
  std::array<char, 4096> sink{};
  bool closed = false;
  bool done = false;
  std::function<void()> read_more = [&] {
    socket_.async_read_some(asio::buffer(sink), [&](const error_code& ec, std::size_t) {
      if (ec) {
        closed = ec == asio::error::eof || ec == asio::error::connection_reset;
        done = true;
        return;
      }
      read_more();
    });
  };
  if (buffer_.size() > 0) buffer_.consume(buffer_.size());
  read_more();
  return finish(done) && closed;
}

void http_client::close() {
  error_code ignored;
  socket_.close(ignored);
}

bool http_client::finish(const bool& done) {
  const auto is_done = [&done] { return done; };
  if (run_until(io_, is_done)) return true;
  // Out of time: close, so the pending operation ends (aborted) before its locals go away.
  close();
  run_until(io_, is_done);
  return false;
}

bool run_until(asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + step_limit;
  while (!done()) {
    if (io.stopped()) io.restart();
    if (io.run_one_until(deadline) == 0 && std::chrono::steady_clock::now() >= deadline)
      return done();
  }
  return true;
}

std::string get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}

}  // namespace cplb::admin::test
