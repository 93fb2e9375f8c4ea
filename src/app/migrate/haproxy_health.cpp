#include "haproxy_health.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "haproxy_check_tls.hpp"
#include "haproxy_http_check.hpp"
#include "haproxy_values.hpp"
#include "numbers.hpp"
#include "words.hpp"
#include "yaml_writer.hpp"

namespace cplb::app::migrate::haproxy {
namespace {

using namespace std::chrono_literals;

/// HAProxy's defaults where they differ from cplb's.
constexpr duration haproxy_inter = 2s;
constexpr unsigned haproxy_fall = 3;

/// The `option` lines that choose what a check does; the last one wins.
constexpr std::array check_options{"httpchk",     "ssl-hello-chk", "tcp-check", "mysql-check",
                                   "pgsql-check", "redis-check",   "smtpchk",   "ldap-check",
                                   "spop-check",  "external-check"};

bool is_check_option(const directive& d) {
  return d.keyword() == "option" &&
         std::find(check_options.begin(), check_options.end(), d.sub()) != check_options.end();
}

enum class check_kind { tcp, http, ssl_hello, other };

check_kind kind_of(const directive* option) {
  if (!option || option->sub() == "tcp-check") return check_kind::tcp;
  if (option->sub() == "httpchk") return check_kind::http;
  if (option->sub() == "ssl-hello-chk") return check_kind::ssl_hello;
  return check_kind::other;
}

/// The value of a time option for cplb (at least 1ms); a note when it is not one.
std::optional<duration> time_of(context& ctx, const std::string& what, const std::string& text,
                                const origin& at, remarks& notes) {
  const auto d = parse_time(text);
  if (d && *d >= 1ms) return d;
  ctx.remark(notes, not_carried_over(what, at, "'" + text + "' is not a time cplb can take"));
  return std::nullopt;
}

/// The `http-check connect` or `tcp-check connect` rule, if the check has one.
const directive* connect_rule(proxy_view& proxy, check_kind kind, remarks& notes, context& ctx) {
  const char* rules = kind == check_kind::http ? "http-check" : "tcp-check";
  const directive* connect = nullptr;
  for (const directive* d : proxy.rules(rules)) {
    if (d->sub() == "connect" && !connect)
      connect = d;
    else if (kind == check_kind::tcp)
      ctx.remark(notes, not_carried_over(d->text(), d->at, "cplb's tcp check connects only"));
  }
  return connect;
}

void map_timing(context& ctx, proxy_view& proxy, const std::vector<const server_line*>& servers,
                health_check_draft& h, remarks& notes) {
  duration interval = haproxy_inter;
  if (const server_option* o = shared_option(ctx, servers, "inter", notes)) {
    if (const auto d = time_of(ctx, o->text(), o->arg(), o->at, notes)) {
      interval = *d;
      h.interval = value{format_duration(*d), from(o->text(), o->at)};
    }
  }
  // Without `timeout check`, HAProxy's whole check must end within inter.
  if (const directive* t = proxy.last("timeout", "check"); t && t->words.size() > 2) {
    if (const auto d = time_of(ctx, t->text(), t->words[2], t->at, notes))
      h.timeout = value{format_duration(*d), from(t->text(), t->at)};
  }
  if (!h.timeout)
    h.timeout = value{format_duration(interval),
                      h.interval ? "inter: HAProxy's check timeout without timeout check"
                                 : "HAProxy's inter, its check timeout without timeout check"};
  if (const server_option* o = shared_option(ctx, servers, "fastinter", notes)) {
    if (const auto d = time_of(ctx, o->text(), o->arg(), o->at, notes))
      h.fast_interval = value{format_duration(std::min(*d, interval)),
                              from(o->text(), o->at) + (*d > interval ? ", at most interval" : "")};
  }
  for (const char* keyword : {"rise", "fall"}) {
    const server_option* o = shared_option(ctx, servers, keyword, notes);
    if (!o) continue;
    const auto n = whole_number(o->arg(), 1, 1'000'000);
    if (!n) {
      ctx.remark(notes, not_carried_over(o->text(), o->at, "not a count cplb can take"));
      continue;
    }
    value v{std::to_string(std::min(*n, 100ul)),
            from(o->text(), o->at) + (*n > 100 ? ", at most 100" : "")};
    (std::string_view(keyword) == "rise" ? h.rise : h.fall) = v;
  }
  if (!h.fall) h.fall = value{std::to_string(haproxy_fall), "HAProxy's default fall"};
}

void map_port(context& ctx, const std::vector<const server_line*>& servers,
              const directive* connect, health_check_draft& h, remarks& notes) {
  const server_option* o = shared_option(ctx, servers, "port", notes);
  const std::string text = o ? o->arg() : connect ? connect->after("port") : "";
  if (text.empty()) return;
  const origin& at = o ? o->at : connect->at;
  const std::string what = o ? o->text() : "port " + text;
  if (const auto port = whole_number(text, 1, 65535))
    h.port = value{std::to_string(*port), from(what, at)};
  else
    ctx.remark(notes, not_carried_over(what, at, "not a port number"));
}

/// Notes for the check settings of a backend none of whose servers has `check`.
void report_unchecked(context& ctx, proxy_view& proxy, const directive* option, remarks& notes) {
  if (option)
    ctx.remark(notes, not_carried_over(option->text(), option->at, "no server has check"));
  for (const char* rules : {"http-check", "tcp-check"})
    for (const directive* d : proxy.rules(rules))
      ctx.remark(notes, not_carried_over(d->text(), d->at, "no server has check"));
}

/// Notes for the check options of the section that a later one replaces, and for http-check
/// rules without an httpchk check to apply to.
void report_replaced(context& ctx, proxy_view& proxy, const directive* option, remarks& notes) {
  for (const directive& d : proxy.self().lines) {
    if (is_check_option(d) && &d != option) {
      proxy.use(d);
      ctx.remark(notes, not_carried_over(d.text(), d.at,
                                         "replaced by " + option->text() + " (" +
                                             option->at.to_string() + "), as HAProxy does"));
    }
  }
  if (kind_of(option) == check_kind::http) return;
  for (const directive* d : proxy.rules("http-check"))
    ctx.remark(notes, not_carried_over(d->text(), d->at,
                                       option ? "applies to option httpchk, which " +
                                                    option->text() + " replaces"
                                              : "applies to option httpchk, which is not set"));
}

/// Whether checks run over TLS, and the directive that says so.
struct transport {
  bool tls = false;
  std::string source;
};

transport transport_of(context& ctx, const std::vector<const server_line*>& checked,
                       const directive* connect, remarks& notes) {
  for (const server_line* s : checked) {
    if (!s->checks_over_tls()) continue;
    const server_option* o = s->has("check-ssl") ? s->find("check-ssl") : s->find("ssl");
    // `ssl` also encrypts the traffic, which cplb does not: it keeps a note of its own.
    if (o->keyword == "check-ssl") shared_option(ctx, checked, "check-ssl", notes);
    return {true, from(o->text(), o->at)};
  }
  if (connect && connect->has("ssl")) return {true, from(connect->text(), connect->at)};
  return {};
}

/// The protocol, path and what an HTTP check sends and expects.
void map_protocol(context& ctx, proxy_view& proxy, const directive* option, check_kind kind,
                  const transport& over, health_check_draft& h, remarks& notes) {
  const std::string handshake_only =
      ": HAProxy checked the TLS handshake only; cplb's https check also GETs path";
  switch (kind) {
    case check_kind::ssl_hello:
      h.protocol = value{"https", from(option->text(), option->at) + handshake_only};
      h.path = value{"/readyz", "the apiserver's readiness"};
      return;
    case check_kind::http: {
      const http_request r = read_http_check(ctx, proxy, *option, notes);
      h.protocol =
          over.tls ? value{"https", over.source} : value{"http", from(option->text(), option->at)};
      if (r.path.starts_with("/") && printable_without_spaces(r.path))
        h.path = value{yaml_scalar(r.path), from("uri " + r.path, r.at)};
      else
        ctx.remark(notes, not_carried_over("uri " + r.path, r.at, "not a path cplb can request"));
      h.expect_status =
          r.expect_status
              ? r.expect_status
              : value{"[200]", "HAProxy passed any 2xx or 3xx without http-check expect"};
      h.headers = r.headers;
      return;
    }
    case check_kind::tcp:
      if (over.tls) {
        h.protocol = value{"https", over.source + handshake_only};
        h.path = value{"/readyz", "the apiserver's readiness"};
      } else {
        h.protocol = value{"tcp", option ? from(option->text(), option->at)
                                         : "no option httpchk: HAProxy checked the TCP connect"};
      }
      return;
    case check_kind::other:
      h.protocol = value{
          "tcp", from(option->text(), option->at) + " is not cplb's: it checks the TCP connect"};
      return;
  }
}

}  // namespace

const server_option* shared_option(context& ctx, const std::vector<const server_line*>& servers,
                                   std::string_view keyword, remarks& notes) {
  const server_option* first = nullptr;
  const server_line* owner = nullptr;
  for (const server_line* s : servers) {
    if (const server_option* o = s->find(keyword)) {
      ctx.consume(*o);
      if (!first) {
        first = o;
        owner = s;
      }
    }
  }
  if (!first) return nullptr;
  const std::string shared = "cplb applies " + first->text() + " of server " + owner->name + " (" +
                             first->at.to_string() + ") to all the backend's servers";
  for (const server_line* s : servers) {
    const server_option* o = s->find(keyword);
    if (!o)
      ctx.remark(notes, not_carried_over("server " + s->name + " without " + std::string(keyword),
                                         s->line->at, shared));
    else if (o->args != first->args)
      ctx.remark(notes, not_carried_over(o->text() + " of server " + s->name, o->at, shared));
  }
  return first;
}

health_check_draft map_health_check(context& ctx, proxy_view& proxy,
                                    const std::vector<const server_line*>& servers,
                                    remarks& notes) {
  health_check_draft h;
  std::vector<const server_line*> checked;
  std::copy_if(servers.begin(), servers.end(), std::back_inserter(checked),
               [](const server_line* s) { return s->has("check"); });
  const directive* option = proxy.last_where(is_check_option);
  if (checked.empty()) {
    report_unchecked(ctx, proxy, option, notes);
    h.protocol = value{"tcp", "no server has check: HAProxy sent them traffic unchecked"};
    return h;
  }
  for (const server_line* s : servers) {
    if (const server_option* c = s->find("check"))
      ctx.consume(*c);
    else
      ctx.remark(notes,
                 not_carried_over("server " + s->name + " without check", s->line->at,
                                  "HAProxy never checked it; cplb checks it like the others"));
  }
  report_replaced(ctx, proxy, option, notes);

  const check_kind kind = kind_of(option);
  const directive* connect = kind == check_kind::http || kind == check_kind::tcp
                                 ? connect_rule(proxy, kind, notes, ctx)
                                 : nullptr;
  map_protocol(ctx, proxy, option, kind, transport_of(ctx, checked, connect, notes), h, notes);
  map_timing(ctx, proxy, checked, h, notes);
  map_port(ctx, checked, connect, h, notes);
  if (h.protocol->text == "https")
    map_tls(ctx, checked, kind == check_kind::ssl_hello ? option : nullptr, connect, h.tls, notes);
  return h;
}

}  // namespace cplb::app::migrate::haproxy
