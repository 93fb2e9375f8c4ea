#include "haproxy_backend.hpp"

#include <algorithm>

#include "cplb/config/config.hpp"
#include "haproxy_health.hpp"
#include "haproxy_reasons.hpp"
#include "haproxy_values.hpp"
#include "names.hpp"
#include "numbers.hpp"
#include "yaml_writer.hpp"

namespace cplb::app::migrate::haproxy {
namespace {

constexpr unsigned long max_weight = 256;

/// `balance ALGORITHM` as cplb's balance, or nullopt.
std::optional<std::string> balance_of(const std::string& algorithm) {
  if (algorithm == "roundrobin" || algorithm == "static-rr") return "round_robin";
  if (algorithm == "leastconn") return "least_conn";
  if (algorithm == "source") return "source_hash";
  // HAProxy's random draws two servers unless told otherwise: the power of two choices.
  if (algorithm == "random" || algorithm == "random(2)") return "random_two";
  return std::nullopt;
}

void map_balance(proxy_view& proxy, backend_draft& b, remarks& notes) {
  proxy.last("hash-type");  // cplb's source_hash is consistent whatever HAProxy's hash-type was
  const directive* d = proxy.last("balance");
  if (!d) {
    b.balance = value{"round_robin", "HAProxy's default balance"};
    return;
  }
  if (const auto balance = balance_of(d->sub()))
    b.balance = value{*balance, from(d->text(), d->at)};
  else
    notes.push_back(not_carried_over(d->text(), d->at,
                                     "cplb balances by round_robin, least_conn, random_two or "
                                     "source_hash; it uses its default, least_conn"));
}

/// The weight of a server for cplb: nullopt for HAProxy's and cplb's default of 1, or when the
/// server must be left out (`why` is set).
field weight_of(context& ctx, const server_line& s, std::string& why) {
  const server_option* o = s.find("weight");
  if (!o) return std::nullopt;
  ctx.consume(*o);
  const auto weight = whole_number(o->arg(), 0, 1'000'000);
  if (!weight) {
    why = "weight '" + o->arg() + "' is not a number";
    return std::nullopt;
  }
  if (*weight == 0) {
    why = "weight 0: HAProxy sends it no traffic, and cplb's weights are 1-256";
    return std::nullopt;
  }
  if (*weight == 1) return std::nullopt;
  return value{std::to_string(std::min(*weight, max_weight)), ""};
}

/// The servers cplb can take, with a note for each it cannot.
std::vector<const server_line*> usable_servers(context& ctx,
                                               const std::vector<server_line>& servers,
                                               backend_draft& b, remarks& notes) {
  std::vector<const server_line*> out;
  std::set<std::string> names;
  std::vector<socket_address> addresses;
  for (const server_line& s : servers) {
    const std::string what = "server " + s.name + " " + s.address;
    std::string why;
    for (const char* left_out : {"backup", "disabled"}) {
      if (const server_option* o = s.find(left_out)) {
        ctx.consume(*o);
        if (why.empty())
          why = std::string(left_out) == "backup"
                    ? "cplb has no backup servers: it would send this one traffic like the others"
                    : "disabled in HAProxy";
      }
    }
    const field weight = weight_of(ctx, s, why);
    const address_or_why address = server_address(s.address);
    if (why.empty() && std::holds_alternative<std::string>(address))
      why = std::get<std::string>(address);
    if (why.empty() && std::find(addresses.begin(), addresses.end(),
                                 std::get<socket_address>(address)) != addresses.end())
      why = "its address is another server's already";
    if (why.empty() && out.size() == config::max_servers_per_backend)
      why = "a cplb backend has at most 64 servers";
    if (!why.empty()) {
      notes.push_back(not_carried_over(what, s.line->at, why));
      continue;
    }
    const socket_address& a = std::get<socket_address>(address);
    addresses.push_back(a);
    const std::string name = unique_name(cplb_name(s.name, "server"), names);
    b.servers.push_back(
        {name, a.to_string(), weight,
         (name == s.name ? "" : "server " + s.name + " ") + s.line->at.to_string()});
    out.push_back(&s);
  }
  return out;
}

void map_server_settings(context& ctx, const std::vector<const server_line*>& servers,
                         backend_draft& b, remarks& notes) {
  if (const server_option* o = shared_option(ctx, servers, "slowstart", notes)) {
    const auto d = parse_time(o->arg());
    if (d)
      b.slow_start = value{format_duration(*d), from(o->text(), o->at)};
    else
      notes.push_back(not_carried_over(o->text(), o->at, "not a time"));
  }
  if (const server_option* o = shared_option(ctx, servers, "on-marked-down", notes)) {
    if (o->arg() == "shutdown-sessions")
      b.on_server_down = value{"close", from(o->text(), o->at)};
    else
      notes.push_back(not_carried_over(o->text(), o->at, why_not(*o)));
  }
}

/// A note for each option of the servers that nothing carried over.
void report_unused_options(context& ctx, const std::vector<const server_line*>& servers,
                           remarks& notes) {
  for (const server_line* s : servers)
    for (const server_option& o : s->options)
      if (!ctx.consumed(o) && !is_negation(o.keyword) && o.keyword != "enabled")
        ctx.remark(notes, not_carried_over(o.text(), o.at, why_not(o)));
}

}  // namespace

std::optional<backend_draft> map_backend(context& ctx, const section& s,
                                         std::set<std::string>& taken, remarks& dropped) {
  proxy_view proxy(ctx.doc, s, ctx.used);
  const std::vector<server_line> servers = read_servers(proxy);
  backend_draft b;
  remarks notes;
  const std::vector<const server_line*> usable = usable_servers(ctx, servers, b, notes);
  const std::string what = s.kind + " " + s.name;
  if (usable.empty()) {
    dropped.insert(dropped.end(), notes.begin(), notes.end());
    dropped.push_back(not_carried_over(
        what, s.header.at,
        servers.empty() ? "it has no server" : "none of its servers can be carried over"));
    return std::nullopt;
  }
  const std::string name = unique_name(cplb_name(s.name, "backend"), taken);
  b.plain_name = name;
  b.name = value{yaml_scalar(name), from(what, s.header.at)};
  map_balance(proxy, b, notes);
  map_server_settings(ctx, usable, b, notes);
  b.health_check = map_health_check(ctx, proxy, usable, notes);
  proxy.last("option", "redispatch");  // cplb always retries a failed connect on another server
  report_unused_options(ctx, usable, notes);
  b.notes = std::move(notes);
  return b;
}

}  // namespace cplb::app::migrate::haproxy
