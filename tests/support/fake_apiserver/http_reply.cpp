#include "http_reply.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

namespace cplb::fake_apiserver {

namespace http = boost::beast::http;

reply make_reply(const request& req, http::status status, std::string_view content_type, std::string body) {
  reply out;
  out.message = response(status, req.version());
  out.message.set(http::field::server, "fake-apiserver");
  out.message.set(http::field::content_type,
                  boost::beast::string_view(content_type.data(), content_type.size()));
  out.message.keep_alive(req.keep_alive());
  out.message.body() = std::move(body);
  out.message.prepare_payload();
  return out;
}

std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace cplb::fake_apiserver
