#include "cplb/admin/status.hpp"

#include <ctime>

#include "json_writer.hpp"

namespace cplb::admin {

namespace {

/// `2024-05-01T12:00:00Z`
std::string iso8601(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(text, n);
}

void write_frontend(json_writer& w, const generation::frontend& f) {
  const generation::frontend_totals t = f.stats->totals();
  w.begin_object()
      .key("name").string(f.config.name)
      .key("listen").string(f.config.listen.to_string())
      .key("backend").string(f.config.backend)
      .key("active_connections").number(t.active)
      .key("connections_total").number(t.connections)
      .key("rejected_connections_total").begin_object()
          .key("max_connections").number(t.rejected_max)
          .key("no_server").number(t.rejected_no_server)
      .end_object()
      .key("accept_pauses_total").number(t.accept_pauses)
      .end_object();
}

void write_server(json_writer& w, const backend::backend& b, const backend::server& s) {
  const backend::counter_totals t = s.totals();
  w.begin_object()
      .key("name").string(s.name())
      .key("address").string(s.address().to_string())
      .key("state").string(backend::displayed_state(b, s))
      .key("reason");
  if (s.reason() == backend::down_reason::none)
    w.null();
  else
    w.string(backend::to_string(s.reason()));
  w.key("reason_detail");
  if (s.reason() == backend::down_reason::none || s.reason_detail().empty())
    w.null();
  else
    w.string(s.reason_detail());
  w.key("active_sessions").number(s.active_sessions())
      .key("weight").number(s.weight())
      .key("connections_total").number(t.connections)
      .key("connect_failures_total").number(t.connect_failures)
      .key("bytes_sent_total").number(t.bytes_sent)
      .key("bytes_received_total").number(t.bytes_received)
      .end_object();
}

void write_backend(json_writer& w, const backend::backend& b) {
  w.begin_object()
      .key("name").string(b.name())
      .key("balance").string(config::to_string(b.config().balance))
      .key("on_server_down").string(config::to_string(b.config().on_server_down))
      .key("all_down").boolean(b.all_down())
      .key("servers").begin_array();
  for (const auto& s : b.servers()) write_server(w, b, *s);
  w.end_array().end_object();
}

}  // namespace

std::string status_json(const status_input& in) {
  json_writer w;
  w.begin_object()
      .key("pid").number(in.pid)
      .key("started_at").string(iso8601(in.started_at))
      .key("config").begin_object()
          .key("file").string(in.config_file)
          .key("loaded_at").string(iso8601(in.loaded_at))
      .end_object();
  w.key("frontends").begin_array();
  if (in.generation)
    for (const auto& f : in.generation->frontends) write_frontend(w, f);
  w.end_array();
  w.key("backends").begin_array();
  if (in.generation && in.generation->backends)
    for (const auto& b : in.generation->backends->all()) write_backend(w, *b);
  w.end_array();
  w.key("vrrp_instances").begin_array();
  for (const auto& v : in.vrrp)
    w.begin_object()
        .key("name").string(v.name)
        .key("state").string(vrrp::to_string(v.state))
        .key("effective_priority").number(v.effective_priority)
        .end_object();
  w.end_array();
  w.key("anycast").begin_array();
  for (const auto& a : in.anycast) {
    w.begin_object()
        .key("name").string(a.name)
        .key("vip").string(a.vip.to_string())
        .key("table").number(a.table)
        .key("announced").boolean(a.announced)
        .key("reason");
    if (a.reason.empty())
      w.null();
    else
      w.string(a.reason);
    w.end_object();
  }
  w.end_array().end_object();
  return w.take();
}

}  // namespace cplb::admin
