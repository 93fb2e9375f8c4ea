#pragma once
#include <set>
#include <string>
#include <vector>

#include "cplb/core/socket_address.hpp"
#include "draft.hpp"
#include "haproxy_context.hpp"

namespace cplb::app::migrate::haproxy {

/// What the frontends mapped so far hold: their names and listening addresses.
struct frontend_registry {
  std::set<std::string> names;
  std::vector<socket_address> listens;
};

/// The cplb frontends of a `frontend` or `listen` section, one per bind address, sending their
/// sessions to `backend` (the section its traffic goes to, carried over as `backend_name`). The
/// timeouts come from both sections, as HAProxy takes them. Notes about the section go to
/// `notes`.
std::vector<frontend_draft> map_frontend(context& ctx, const section& s, const section& backend,
                                         const value& backend_name, frontend_registry& taken,
                                         remarks& notes);

}  // namespace cplb::app::migrate::haproxy
