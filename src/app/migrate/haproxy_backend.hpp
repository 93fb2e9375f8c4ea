#pragma once
#include <optional>
#include <set>
#include <string>

#include "draft.hpp"
#include "haproxy_context.hpp"

namespace cplb::app::migrate::haproxy {

/// A `backend` section, or a `listen` section with servers, as a cplb backend named from
/// `taken` (to which its name is added). nullopt when none of its servers can be carried over;
/// then `dropped` says why.
std::optional<backend_draft> map_backend(context& ctx, const section& s,
                                         std::set<std::string>& taken, remarks& dropped);

}  // namespace cplb::app::migrate::haproxy
