#include "haproxy_frontend.hpp"

#include <algorithm>

#include "haproxy_values.hpp"
#include "names.hpp"
#include "numbers.hpp"
#include "words.hpp"
#include "yaml_writer.hpp"

namespace cplb::app::migrate::haproxy {
namespace {

/// The timeouts and retries every frontend of the section takes.
struct session_settings {
  field connect_timeout;
  field idle_timeout;
  field retries;
};

bool is_wildcard(const socket_address& a) {
  const std::string ip = a.ip_string();
  return ip == "0.0.0.0" || ip == "::";
}

/// Whether two listening sockets would take the same connections (as cplb's validation sees it:
/// [::] is dual-stack).
bool overlaps(const socket_address& a, const socket_address& b) {
  if (a.port() != b.port()) return false;
  if (a == b) return true;
  const bool v6_any =
      (is_wildcard(a) && a.family() == AF_INET6) || (is_wildcard(b) && b.family() == AF_INET6);
  return v6_any || (a.family() == b.family() && (is_wildcard(a) || is_wildcard(b)));
}

/// `timeout NAME T` of `proxy` as a cplb duration, with a note when cplb cannot take it.
std::optional<std::pair<duration, const directive*>> timeout(context& ctx, proxy_view& proxy,
                                                             const char* name, remarks& notes) {
  const directive* d = proxy.last("timeout", name);
  if (!d) return std::nullopt;
  const auto t = d->words.size() > 2 ? parse_time(d->words[2]) : std::nullopt;
  if (t && *t >= duration(1)) return std::make_pair(*t, d);
  ctx.remark(notes, not_carried_over(d->text(), d->at, "cplb has no unlimited timeouts"));
  return std::nullopt;
}

value timeout_value(const std::pair<duration, const directive*>& t, const std::string& extra = "") {
  return {format_duration(t.first), from(t.second->text(), t.second->at) + extra};
}

/// HAProxy takes the connect and server timeouts and the retries from the backend, the client
/// timeout from the frontend; a TCP session idle past `timeout tunnel`, where set, ends.
session_settings settings_of(context& ctx, const section& frontend, const section& backend,
                             remarks& notes) {
  proxy_view front(ctx.doc, frontend, ctx.used);
  proxy_view back(ctx.doc, backend, ctx.used);
  session_settings out;
  if (const auto t = timeout(ctx, back, "connect", notes)) out.connect_timeout = timeout_value(*t);
  const auto tunnel = timeout(ctx, back, "tunnel", notes);
  const auto client = timeout(ctx, front, "client", notes);
  const auto server = timeout(ctx, back, "server", notes);
  if (tunnel) {
    out.idle_timeout = timeout_value(*tunnel);
  } else if (client && server) {
    const auto& larger = client->first >= server->first ? *client : *server;
    const auto& other = &larger == &*client ? *server : *client;
    out.idle_timeout = timeout_value(
        larger, ", the larger of it and " + from(other.second->text(), other.second->at));
  } else if (client || server) {
    out.idle_timeout = timeout_value(client ? *client : *server);
  }
  if (const directive* d = back.last("retries")) {
    if (const auto n = whole_number(d->sub(), 0, 63))
      out.retries = value{std::to_string(*n), from(d->text(), d->at)};
    else
      ctx.remark(notes, not_carried_over(d->text(), d->at, "cplb retries 0 to 63 times"));
  }
  return out;
}

/// The bind lines: the section's, and the address of an old-style `listen NAME ADDR`.
std::vector<const directive*> bind_lines(proxy_view& proxy) {
  std::vector<const directive*> out;
  const section& s = proxy.self();
  if (s.kind == "listen" && s.header.words.size() > 2 && s.header.words[2] != "from")
    out.push_back(&s.header);
  for (const directive& d : s.lines)
    if (d.keyword() == "bind") {
      proxy.use(d);
      out.push_back(&d);
    }
  return out;
}

/// Why a bind line cannot be carried over at all, or empty; a note for options it drops.
std::string check_bind_options(const directive& bind, std::size_t first_option, remarks& notes) {
  const auto& w = bind.words;
  if (std::find(w.begin() + first_option, w.end(), "ssl") != w.end())
    return "it terminates TLS; cplb passes TLS through to the servers";
  if (std::find(w.begin() + first_option, w.end(), "accept-proxy") != w.end())
    return "cplb reads no PROXY protocol header";
  std::vector<std::string> dropped;
  for (std::size_t i = first_option; i < w.size(); ++i)
    if (w[i] != "v4v6") dropped.push_back(w[i]);  // cplb's [::] listeners are dual-stack
  if (!dropped.empty())
    notes.push_back(not_carried_over("bind options " + join_words(dropped), bind.at,
                                     "cplb binds the address only"));
  return "";
}

}  // namespace

std::vector<frontend_draft> map_frontend(context& ctx, const section& s, const section& backend,
                                         const value& backend_name, frontend_registry& taken,
                                         remarks& notes) {
  proxy_view proxy(ctx.doc, s, ctx.used);
  const session_settings settings = settings_of(ctx, s, backend, notes);
  const std::string base = cplb_name(s.name, "frontend");
  std::vector<frontend_draft> out;
  for (const directive* bind : bind_lines(proxy)) {
    const bool header = bind == &s.header;  // `listen NAME ADDR`
    const std::string& address_word = bind->words[header ? 2 : 1];
    const std::string what =
        header ? s.kind + " " + s.name + " " + address_word : "bind " + address_word;
    if (const std::string why = check_bind_options(*bind, header ? 3 : 2, notes); !why.empty()) {
      notes.push_back(not_carried_over(bind->text(), bind->at, why));
      continue;
    }
    for (const address_or_why& address : bind_addresses(address_word)) {
      if (const auto* why = std::get_if<std::string>(&address)) {
        notes.push_back(not_carried_over(what, bind->at, *why));
        continue;
      }
      const socket_address& a = std::get<socket_address>(address);
      const auto clash = std::find_if(taken.listens.begin(), taken.listens.end(),
                                      [&](const socket_address& l) { return overlaps(a, l); });
      if (clash != taken.listens.end()) {
        notes.push_back(not_carried_over(
            what, bind->at,
            a.to_string() + " overlaps " + clash->to_string() + " of another frontend"));
        continue;
      }
      taken.listens.push_back(a);
      frontend_draft f;
      f.name = value{yaml_scalar(unique_name(base, taken.names)),
                     from(s.kind + " " + s.name, s.header.at)};
      f.listen = value{yaml_scalar(a.to_string()), from(what, bind->at)};
      f.backend = backend_name;
      f.connect_timeout = settings.connect_timeout;
      f.idle_timeout = settings.idle_timeout;
      f.retries = settings.retries;
      out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace cplb::app::migrate::haproxy
