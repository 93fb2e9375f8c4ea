#include "admin_client.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "cplb/core/text_file.hpp"
#include "cplb/config/config.hpp"
#include "cplb/core/asio_endpoint.hpp"

namespace cplb::app::status {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

/// `connect: Connection refused`, or `no answer within 5s` when the deadline passed.
std::string failure(const char* step, const beast::error_code& ec,
                    std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout)
    return std::string("no answer within ") + std::to_string(timeout.count()) + "ms (" + step + ")";
  return std::string(step) + ": " + ec.message();
}

}  // namespace

std::optional<std::string> fetch_status(const socket_address& admin,
                                        std::chrono::milliseconds timeout, std::string& why) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);  // one deadline for the whole exchange
  http::request<http::empty_body> request{http::verb::get, "/status", 11};
  request.set(http::field::host, admin.to_string());
  request.set(http::field::user_agent, "cplb-status");
  request.set(http::field::connection, "close");
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  stream.async_connect(to_endpoint(admin), [&](const beast::error_code& ec) {
    if (ec) return void(why = failure("connect", ec, timeout));
    http::async_write(stream, request, [&](const beast::error_code& ec, std::size_t) {
      if (ec) return void(why = failure("send", ec, timeout));
      http::async_read(stream, buffer, response, [&](const beast::error_code& ec, std::size_t) {
        if (ec) why = failure("read", ec, timeout);
      });
    });
  });
  io.run();
  if (!why.empty()) return std::nullopt;
  if (response.result() != http::status::ok) {
    why = "GET /status answered " + std::to_string(response.result_int());
    return std::nullopt;
  }
  return std::move(response.body());
}

socket_address reachable(const socket_address& listen) {
  const std::string ip = listen.ip_string();
  if (ip == "0.0.0.0") return *socket_address::from_ip("127.0.0.1", listen.port());
  if (ip == "::") return *socket_address::from_ip("::1", listen.port());
  return listen;
}

std::optional<socket_address> admin_address_of(const std::string& path, std::string& why) {
  const auto text = read_text_file(path, why);
  if (!text) {
    why = path + ": " + why;
    return std::nullopt;
  }
  try {
    const YAML::Node root = YAML::Load(*text);
    const YAML::Node admin = root.IsMap() ? root["admin"] : YAML::Node();
    const YAML::Node listen = admin.IsMap() ? admin["listen"] : YAML::Node();
    if (!listen.IsScalar()) return config::admin_config{}.listen;
    if (auto address = socket_address::parse(listen.Scalar())) return address;
    why = path + ": admin.listen '" + listen.Scalar() + "' is not IP:PORT";
  } catch (const YAML::Exception& e) {
    why = path + ": " + e.what();
  }
  return std::nullopt;
}

}  // namespace cplb::app::status
