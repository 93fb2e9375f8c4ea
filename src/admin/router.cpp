#include "router.hpp"

#include <exception>

#include "cplb/core/log.hpp"

namespace cplb::admin {

reply text(unsigned status, std::string body) {
  reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

namespace {

reply answer(std::string_view path, const handlers& h) {
  if (path == "/metrics") {
    reply r = text(200, h.metrics());
    r.content_type = metrics_content_type;
    return r;
  }
  if (path == "/healthz" || path == "/livez") {
    const health_verdict v = path == "/healthz" ? h.healthz() : h.livez();
    return v.ok ? text(200, "ok\n") : text(503, v.reason + "\n");
  }
  reply r = text(200, h.status());
  r.content_type = "application/json";
  return r;
}

}  // namespace

reply route(std::string_view method, std::string_view target, const handlers& h) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path != "/metrics" && path != "/healthz" && path != "/livez" && path != "/status")
    return text(404, "not found\n");
  if (method != "GET" && method != "HEAD") {
    reply r = text(405, "method not allowed\n");
    r.allow = "GET, HEAD";
    return r;
  }
  try {
    return answer(path, h);
  } catch (const std::exception& e) {
    log::error("admin request failed", {{"path", path}, {"error", e.what()}});
    return text(500, "internal error\n");
  }
}

}  // namespace cplb::admin
