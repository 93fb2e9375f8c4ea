#pragma once
#include <vector>

#include "draft.hpp"
#include "keepalived_syntax.hpp"

namespace cplb::app::migrate::keepalived {

/// Maps the `vrrp_instance` blocks of a parsed keepalived config into `out.vrrp_instances`,
/// with a note for every line cplb does not carry over. A `track_script` becomes
/// `track_backends` over the backends already in `out`, its scripts' weights the penalty.
void map_keepalived(const std::vector<node>& top, draft& out);

}  // namespace cplb::app::migrate::keepalived
