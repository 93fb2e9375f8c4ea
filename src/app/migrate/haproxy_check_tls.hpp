#pragma once
#include <vector>

#include "draft.hpp"
#include "haproxy_context.hpp"

namespace cplb::app::migrate::haproxy {

/// The TLS of an https check, from what its servers share (`verify`, `ca-file`, `crt`,
/// `check-sni`, `verifyhost`), the `sni` of its connect rule and the global `ssl-server-verify`.
/// `hello` is the `option ssl-hello-chk` line when that is the check: it verified no certificate.
void map_tls(context& ctx, const std::vector<const server_line*>& servers, const directive* hello,
             const directive* connect, tls_draft& tls, remarks& notes);

}  // namespace cplb::app::migrate::haproxy
