#include "haproxy_check_tls.hpp"

#include "haproxy_health.hpp"
#include "words.hpp"
#include "yaml_writer.hpp"

namespace cplb::app::migrate::haproxy {
namespace {

/// `crt FILE`: HAProxy's PEM holds the certificate and its key, or the key is in FILE.key.
void map_client_certificate(context& ctx, const server_option& crt, tls_draft& tls,
                            remarks& notes) {
  const std::string path = ctx.resolve(crt.arg(), ctx.crt_base);
  const auto pem = ctx.read_file(path);
  if (!pem) {
    ctx.remark(notes, not_carried_over(crt.text(), crt.at,
                                       "cannot read " + path +
                                           " here (cplb reads the files it "
                                           "names at load): set tls.cert_file and key_file"));
    return;
  }
  std::string key = path;
  if (pem->find("PRIVATE KEY-----") == std::string::npos) {
    key = path + ".key";
    if (!ctx.read_file(key)) {
      ctx.remark(notes, not_carried_over(crt.text(), crt.at,
                                         path + " holds no private key, and " + key +
                                             " cannot be read: set tls.key_file"));
      return;
    }
  }
  tls.cert_file = value{yaml_scalar(path), from(crt.text(), crt.at)};
  tls.key_file = value{yaml_scalar(key), key == path ? "the same PEM: cplb reads the key from it"
                                                     : "HAProxy's FILE.key beside the crt"};
}

}  // namespace

void map_tls(context& ctx, const std::vector<const server_line*>& servers, const directive* hello,
             const directive* connect, tls_draft& tls, remarks& notes) {
  const server_option* verify = shared_option(ctx, servers, "verify", notes);
  if (hello)
    tls.insecure_skip_verify =
        value{"true", from(hello->text(), hello->at) + " verified no certificate"};
  else if (verify && verify->arg() == "none")
    tls.insecure_skip_verify = value{"true", from(verify->text(), verify->at)};
  else if (!verify && ctx.server_verify && ctx.server_verify->sub() == "none")
    tls.insecure_skip_verify =
        value{"true", from(ctx.server_verify->text(), ctx.server_verify->at)};

  if (const server_option* ca = shared_option(ctx, servers, "ca-file", notes)) {
    const std::string path = ctx.resolve(ca->arg(), ctx.ca_base);
    if (ctx.read_file(path))
      tls.ca_file = value{yaml_scalar(path), from(ca->text(), ca->at)};
    else
      ctx.remark(notes, not_carried_over(ca->text(), ca->at,
                                         "cannot read " + path +
                                             " here (cplb reads the files it "
                                             "names at load): set tls.ca_file where it can"));
  }
  if (const server_option* crt = shared_option(ctx, servers, "crt", notes))
    map_client_certificate(ctx, *crt, tls, notes);

  // The name sent as SNI and verified: check-sni, else the connect rule's sni, else verifyhost.
  const server_option* sni = shared_option(ctx, servers, "check-sni", notes);
  const server_option* host = shared_option(ctx, servers, "verifyhost", notes);
  std::string name = sni ? sni->arg() : connect ? connect->after("sni") : "";
  std::string source = sni       ? from(sni->text(), sni->at)
                       : connect ? from(connect->text(), connect->at)
                                 : "";
  if (name.empty() && host) {
    name = host->arg();
    source = from(host->text(), host->at);
  } else if (host && host->arg() != name) {
    ctx.remark(notes, not_carried_over(host->text(), host->at,
                                       "cplb verifies the name it sends as SNI (" + name + ")"));
  }
  if (name.empty()) return;
  if (name.size() <= 253 && printable_without_spaces(name))
    tls.server_name = value{yaml_scalar(name), source};
  else
    ctx.remark(notes,
               not_carried_over("SNI " + name, servers.front()->line->at, "not a host name"));
}

}  // namespace cplb::app::migrate::haproxy
