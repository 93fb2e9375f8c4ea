#include "haproxy_servers.hpp"

#include <algorithm>
#include <array>

#include "words.hpp"

namespace cplb::app::migrate::haproxy {
namespace {

// The keywords of server lines (HAProxy 2.8) by the number of arguments they take. A keyword
// missing here takes one argument if the word after it is not a keyword.
constexpr std::array flags{"agent-check",
                           "allow-0rtt",
                           "backup",
                           "check",
                           "check-reuse-pool",
                           "check-send-proxy",
                           "check-ssl",
                           "check-via-socks4",
                           "disabled",
                           "enabled",
                           "force-sslv3",
                           "force-tlsv10",
                           "force-tlsv11",
                           "force-tlsv12",
                           "force-tlsv13",
                           "no-agent-check",
                           "no-backup",
                           "no-check",
                           "no-check-ssl",
                           "no-send-proxy",
                           "no-send-proxy-v2",
                           "no-send-proxy-v2-ssl",
                           "no-send-proxy-v2-ssl-cn",
                           "no-ssl",
                           "no-ssl-reuse",
                           "no-sslv3",
                           "no-tfo",
                           "no-tls-tickets",
                           "no-tlsv10",
                           "no-tlsv11",
                           "no-tlsv12",
                           "no-tlsv13",
                           "no-verifyhost",
                           "non-stick",
                           "send-proxy",
                           "send-proxy-v2",
                           "send-proxy-v2-ssl",
                           "send-proxy-v2-ssl-cn",
                           "ssl",
                           "ssl-reuse",
                           "stick",
                           "tfo",
                           "tls-tickets"};

constexpr std::array with_argument{"addr",
                                   "agent-addr",
                                   "agent-inter",
                                   "agent-port",
                                   "agent-send",
                                   "alpn",
                                   "ca-file",
                                   "check-alpn",
                                   "check-proto",
                                   "check-sni",
                                   "ciphers",
                                   "ciphersuites",
                                   "client-sigalgs",
                                   "cookie",
                                   "crl-file",
                                   "crt",
                                   "curves",
                                   "downinter",
                                   "error-limit",
                                   "fall",
                                   "fastinter",
                                   "guid",
                                   "hash-key",
                                   "id",
                                   "init-addr",
                                   "inter",
                                   "log-bufsize",
                                   "log-proto",
                                   "maxconn",
                                   "maxqueue",
                                   "max-reuse",
                                   "minconn",
                                   "namespace",
                                   "npn",
                                   "observe",
                                   "on-error",
                                   "on-marked-down",
                                   "on-marked-up",
                                   "pool-low-conn",
                                   "pool-max-conn",
                                   "pool-purge-delay",
                                   "port",
                                   "proto",
                                   "proxy-v2-options",
                                   "redir",
                                   "resolve-net",
                                   "resolve-opts",
                                   "resolve-prefer",
                                   "resolvers",
                                   "rise",
                                   "shard",
                                   "sigalgs",
                                   "slowstart",
                                   "sni",
                                   "socks4",
                                   "source",
                                   "ssl-max-ver",
                                   "ssl-min-ver",
                                   "tcp-ut",
                                   "track",
                                   "verify",
                                   "verifyhost",
                                   "weight",
                                   "ws"};

template <std::size_t N>
bool listed(const std::array<const char*, N>& list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

bool is_keyword(std::string_view word) {
  return listed(flags, word) || listed(with_argument, word);
}

/// The options written from `words[first]` on.
std::vector<server_option> read_options(const std::vector<std::string>& words, std::size_t first,
                                        const origin& at) {
  std::vector<server_option> out;
  for (std::size_t i = first; i < words.size();) {
    server_option option{words[i++], {}, at};
    const bool takes_argument =
        listed(with_argument, option.keyword) ||
        (!listed(flags, option.keyword) && i < words.size() && !is_keyword(words[i]));
    if (takes_argument && i < words.size()) option.args.push_back(words[i++]);
    // `source ADDR [usesrc ADDR] [interface NAME]`
    while (option.keyword == "source" && i + 1 < words.size() &&
           (words[i] == "usesrc" || words[i] == "interface")) {
      option.args.push_back(words[i++]);
      option.args.push_back(words[i++]);
    }
    out.push_back(std::move(option));
  }
  return out;
}

/// Applies `later` over `base`: an option replaces an earlier one of its keyword, and `no-X`
/// also removes `X` (it stays, so that `no-check-ssl` is known to have been said).
void override_with(std::vector<server_option>& base, const std::vector<server_option>& later) {
  for (const auto& option : later) {
    auto drop = [&](std::string_view keyword) {
      std::erase_if(base, [&](const server_option& o) { return o.keyword == keyword; });
    };
    drop(option.keyword);
    if (is_negation(option.keyword))
      drop(option.keyword.substr(3));
    else
      drop("no-" + option.keyword);
    base.push_back(option);
  }
}

}  // namespace

std::string server_option::text() const {
  std::vector<std::string> words{keyword};
  words.insert(words.end(), args.begin(), args.end());
  return join_words(words);
}

const server_option* server_line::find(std::string_view keyword) const {
  for (const auto& o : options)
    if (o.keyword == keyword) return &o;
  return nullptr;
}

bool server_line::checks_over_tls() const {
  return has("check-ssl") || (has("ssl") && !has("no-check-ssl"));
}

bool is_negation(std::string_view keyword) {
  return keyword.starts_with("no-") && listed(flags, keyword) && listed(flags, keyword.substr(3));
}

std::vector<server_line> read_servers(proxy_view& proxy) {
  std::vector<server_line> out;
  std::vector<server_option> defaults;
  for (const directive* d : proxy.inherited("default-server"))
    override_with(defaults, read_options(d->words, 1, d->at));
  // The section's own default-server lines apply to the servers after them.
  for (const directive& d : proxy.self().lines) {
    if (d.keyword() == "default-server") {
      proxy.use(d);
      override_with(defaults, read_options(d.words, 1, d.at));
    } else if (d.keyword() == "server") {
      proxy.use(d);
      server_line s{&d, d.words[1], d.words[2], defaults};
      override_with(s.options, read_options(d.words, 3, d.at));
      out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace cplb::app::migrate::haproxy
