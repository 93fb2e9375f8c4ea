#include <catch2/catch.hpp>

#include <stdexcept>

#include "router.hpp"

using namespace cplb::admin;

namespace {

handlers fake(bool healthy, bool live = true) {
  return {[] { return std::string("# metrics\n"); },
          [healthy] { return health_verdict{healthy, healthy ? "" : "all down"}; },
          [live] { return health_verdict{live, live ? "" : "worker 1 has not run posted work for 6s"}; },
          [] { return std::string("{}"); }};
}

}  // namespace

TEST_CASE("the router answers the four endpoints") {
  const auto h = fake(true);
  auto r = route("GET", "/metrics", h);
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(r.body == "# metrics\n");
  CHECK(route("GET", "/metrics?name[]=x", h).status == 200);
  r = route("GET", "/status", h);
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  CHECK(r.body == "{}");
  r = route("HEAD", "/healthz", h);
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
  for (const char* method : {"GET", "HEAD"}) {
    INFO(method);
    r = route(method, "/livez", h);
    CHECK(r.status == 200);
    CHECK(r.content_type == "text/plain; charset=utf-8");
    CHECK(r.body == "ok\n");
  }
  CHECK(route("GET", "/livez?verbose", h).status == 200);
}

TEST_CASE("/healthz says why it fails") {
  const auto r = route("GET", "/healthz", fake(false));
  CHECK(r.status == 503);
  CHECK(r.body == "all down\n");
}

TEST_CASE("/livez answers from the event loops, whatever the backends") {
  CHECK(route("GET", "/livez", fake(false)).status == 200);
  CHECK(route("GET", "/healthz", fake(false)).status == 503);
  const auto r = route("GET", "/livez", fake(true, false));
  CHECK(r.status == 503);
  CHECK(r.body == "worker 1 has not run posted work for 6s\n");
  CHECK(route("GET", "/healthz", fake(true, false)).status == 200);
}

TEST_CASE("the router refuses other paths and methods") {
  const auto h = fake(true);
  CHECK(route("GET", "/", h).status == 404);
  CHECK(route("GET", "/metrics/", h).status == 404);
  CHECK(route("GET", "/livez/", h).status == 404);
  CHECK(route("GET", "http://x/metrics", h).status == 404);
  CHECK(route("POST", "/nope", h).status == 404);
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "get"}) {
    for (const char* path : {"/metrics", "/livez"}) {
      INFO(method << " " << path);
      const auto r = route(method, path, h);
      CHECK(r.status == 405);
      CHECK(r.allow == "GET, HEAD");
    }
  }
}

TEST_CASE("a handler that throws gives 500") {
  handlers h = fake(true);
  h.status = []() -> std::string { throw std::runtime_error("boom"); };
  CHECK(route("GET", "/status", h).status == 500);
  h.livez = []() -> health_verdict { throw std::runtime_error("boom"); };
  CHECK(route("GET", "/livez", h).status == 500);
}
