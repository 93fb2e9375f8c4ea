#pragma once
#include <string_view>
#include <vector>

#include "draft.hpp"
#include "haproxy_context.hpp"

namespace cplb::app::migrate::haproxy {

/// The option `keyword` of the first of `servers` that has it (nullptr when none has), marked
/// as carried over on all of them. cplb applies one value to a backend's servers, so each server
/// whose own differs gets a note.
const server_option* shared_option(context& ctx, const std::vector<const server_line*>& servers,
                                   std::string_view keyword, remarks& notes);

/// The health check of a backend: its kind from the proxy's check option (`option httpchk`,
/// `ssl-hello-chk`, `tcp-check`) and rules (`http-check`, `tcp-check connect`), its timing and
/// TLS from what its servers share (`check`, `inter`, `fall`, `check-ssl`, `verify`, ...).
health_check_draft map_health_check(context& ctx, proxy_view& proxy,
                                    const std::vector<const server_line*>& servers, remarks& notes);

}  // namespace cplb::app::migrate::haproxy
