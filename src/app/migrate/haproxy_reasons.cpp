#include "haproxy_reasons.hpp"

#include <string_view>

namespace cplb::app::migrate::haproxy {
namespace {

struct reason {
  std::string_view match;  ///< `keyword`, `keyword sub`, or a prefix ending in '.'
  std::string_view why;
};

constexpr std::string_view http = "an HTTP setting: cplb proxies TCP";
constexpr std::string_view logging = "cplb logs to stderr, one logfmt event a line";
constexpr std::string_view foreground =
    "cplb runs in the foreground, under systemd (conf/cplb.service) or as a static pod";
constexpr std::string_view keepalive =
    "cplb sets TCP keepalive on both legs itself (tcp_keepalive)";
constexpr std::string_view content_rules = "cplb has no content rules or ACLs";
constexpr std::string_view stick =
    "cplb keeps no stick tables (balance: source_hash keeps a client on one server)";
constexpr std::string_view tls_termination = "cplb terminates no TLS: it passes TLS through";

constexpr reason directive_reasons[] = {
    {"mode", "cplb proxies TCP only"},
    {"log", logging},
    {"log-format", logging},
    {"log-tag", logging},
    {"option tcplog", "cplb logs each session at --log-level debug"},
    {"option dontlognull", logging},
    {"option log-health-checks", "cplb logs every change of a server's state"},
    {"option httplog", http},
    {"option http-server-close", http},
    {"option httpclose", http},
    {"option http-keep-alive", http},
    {"option forwardfor", http},
    {"option forwarded", http},
    {"option http-buffer-request", http},
    {"timeout http-request", http},
    {"timeout http-keep-alive", http},
    {"timeout tarpit", http},
    {"timeout queue", "cplb does not queue: a session with no server to go to ends at once"},
    {"timeout client-fin", "cplb ends idle sessions by idle_timeout only"},
    {"timeout server-fin", "cplb ends idle sessions by idle_timeout only"},
    {"http-request", http},
    {"http-response", http},
    {"http-after-response", http},
    {"http-reuse", http},
    {"errorfile", http},
    {"errorloc", http},
    {"compression", http},
    {"redirect", http},
    {"cookie", http},
    {"monitor-uri", "an HTTP setting: cplb's admin.listen serves /healthz"},
    {"maxconn", "cplb caps connections for the process (global.max_connections), not per proxy"},
    {"fullconn", "cplb has no per-server connection limits"},
    {"stats", "cplb's admin.listen serves /status (JSON) and /metrics (Prometheus)"},
    {"stick-table", stick},
    {"stick", stick},
    {"acl", content_rules},
    {"tcp-request", content_rules},
    {"tcp-response", content_rules},
    {"use_backend", "a cplb frontend sends every session to its one backend"},
    {"option tcpka", keepalive},
    {"option clitcpka", keepalive},
    {"option srvtcpka", keepalive},
    {"option splice-auto", "cplb moves the bytes itself"},
    {"option splice-request", "cplb moves the bytes itself"},
    {"option splice-response", "cplb moves the bytes itself"},
    {"option abortonclose", "cplb passes a client's close on to the server as it comes"},
    {"option transparent", "cplb connects to the servers it is given"},
    {"source", "cplb connects from the address the kernel picks"},
    {"server-template", "cplb resolves no names: list the servers"},
    {"email-alert", "cplb sends no mail: alert on cplb_server_up"},
    {"external-check", "cplb runs no check scripts"},
    {"description", "cplb keeps no descriptions"},
    {"daemon", foreground},
    {"master-worker", foreground},
    {"pidfile", foreground},
    {"user", "run cplb as its own user (conf/cplb.service)"},
    {"group", "run cplb as its own user (conf/cplb.service)"},
    {"uid", "run cplb as its own user (conf/cplb.service)"},
    {"gid", "run cplb as its own user (conf/cplb.service)"},
    {"chroot", "confine cplb with systemd (conf/cplb.service)"},
    {"nbproc", "cplb runs one process; global.workers sets its proxy threads"},
    {"cpu-map", "pin cplb with systemd's CPUAffinity="},
    {"ssl-default-bind-ciphers", tls_termination},
    {"ssl-default-bind-ciphersuites", tls_termination},
    {"ssl-default-bind-options", tls_termination},
    {"ssl-default-server-ciphers", "cplb's checks use OpenSSL's defaults"},
    {"ssl-default-server-ciphersuites", "cplb's checks use OpenSSL's defaults"},
    {"ssl-default-server-options", "cplb's checks use OpenSSL's defaults"},
    {"ssl-dh-param-file", tls_termination},
    {"spread-checks", "cplb spreads probes by jittering their interval by 10%"},
    {"lua-load", "cplb runs no Lua"},
    {"setenv", "cplb reads no environment variables from its config"},
    {"presetenv", "cplb reads no environment variables from its config"},
    {"tune.", "cplb has no tuning knob of this kind"},
};

constexpr reason option_reasons[] = {
    {"maxconn", "cplb has no per-server connection limit"},
    {"maxqueue", "cplb does not queue"},
    {"minconn", "cplb has no per-server connection limit"},
    {"downinter", "cplb probes a down server every interval too"},
    {"addr", "cplb checks the server's own address"},
    {"send-proxy", "cplb sends no PROXY protocol header: servers see cplb's address"},
    {"send-proxy-v2", "cplb sends no PROXY protocol header: servers see cplb's address"},
    {"ssl", "cplb passes the bytes through; it does not encrypt them toward the server"},
    {"observe", "cplb always counts failed connects on the data path toward fall"},
    {"on-error", "cplb always counts failed connects on the data path toward fall"},
    {"error-limit", "cplb always counts failed connects on the data path toward fall"},
    {"on-marked-up", "cplb moves sessions back by rebalance"},
    {"on-marked-down", "cplb's on_server_down is keep, close or drain"},
    {"agent-check", "cplb has no agent checks"},
    {"resolvers", "cplb resolves no names"},
    {"init-addr", "cplb resolves no names"},
    {"resolve-prefer", "cplb resolves no names"},
    {"cookie", http},
    {"id", "cplb knows servers by name"},
    {"track", "cplb checks every server itself"},
    {"alpn", "cplb's checks speak HTTP/1.1"},
    {"check-alpn", "cplb's checks speak HTTP/1.1"},
    {"proto", "cplb proxies TCP"},
    {"crl-file", "cplb's checks read no CRL"},
    {"tfo", "cplb does not use TCP Fast Open"},
    {"source", "cplb connects from the address the kernel picks"},
    {"namespace", "run cplb in that network namespace instead"},
    {"socks4", "cplb connects directly"},
    {"ciphers", "cplb's checks use OpenSSL's defaults"},
    {"ciphersuites", "cplb's checks use OpenSSL's defaults"},
    {"ssl-min-ver", "cplb's checks use OpenSSL's defaults"},
    {"ssl-max-ver", "cplb's checks use OpenSSL's defaults"},
    {"sni", "sets the SNI of the traffic, which cplb passes through (check-sni sets the checks')"},
    {"verify", "a TLS setting, and this check is not over TLS"},
    {"ca-file", "a TLS setting, and this check is not over TLS"},
    {"crt", "a TLS setting, and this check is not over TLS"},
    {"check-sni", "a TLS setting, and this check is not over TLS"},
    {"verifyhost", "a TLS setting, and this check is not over TLS"},
    {"pool-max-conn", "cplb opens one server connection per session"},
    {"pool-low-conn", "cplb opens one server connection per session"},
    {"pool-purge-delay", "cplb opens one server connection per session"},
    {"max-reuse", "cplb opens one server connection per session"},
};

constexpr reason section_reasons[] = {
    {"userlist", "HTTP authentication: cplb proxies TCP"},
    {"peers", stick},
    {"resolvers", "cplb resolves no names"},
    {"mailers", "cplb sends no mail: alert on cplb_server_up"},
    {"program", "run other programs as services of their own"},
    {"http-errors", http},
    {"cache", http},
    {"fcgi-app", http},
    {"ring", logging},
    {"log-forward", logging},
};

template <std::size_t N>
std::string_view lookup(const reason (&table)[N], std::string_view key) {
  for (const auto& r : table)
    if (r.match == key || (r.match.ends_with('.') && key.starts_with(r.match))) return r.why;
  return {};
}

constexpr std::string_view no_equivalent = "cplb has no equivalent";

}  // namespace

std::string why_not(const directive& d) {
  std::string_view why;
  if (d.words.size() > 1) why = lookup(directive_reasons, d.keyword() + " " + d.sub());
  if (why.empty()) why = lookup(directive_reasons, d.keyword());
  return std::string(why.empty() ? no_equivalent : why);
}

std::string why_not(const server_option& o) {
  std::string_view key = o.keyword;
  if (key.starts_with("send-proxy")) key = "send-proxy";
  if (key.starts_with("agent-")) key = "agent-check";
  if (key.starts_with("resolve-")) key = "resolve-prefer";
  if (key.starts_with("force-") || key.starts_with("no-tls") || key.starts_with("no-ssl"))
    key = "ssl-min-ver";
  if (key.starts_with("check-via-")) key = "socks4";
  const std::string_view why = lookup(option_reasons, key);
  return std::string(why.empty() ? no_equivalent : why);
}

std::string why_not_section(const std::string& kind) {
  const std::string_view why = lookup(section_reasons, kind);
  return std::string(why.empty() ? no_equivalent : why);
}

}  // namespace cplb::app::migrate::haproxy
