#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// `cplb status`: a running instance's /status document as a table for a terminal.
namespace cplb::app::status {

/// The lines of the table for the /status document `json`: the frontends (name, listen, backend,
/// active sessions), each backend's servers (name, address, state, active sessions, weight, the
/// reason of the last failed check), then the VRRP instances (state, effective priority). With
/// `colour`, states are coloured with ANSI escapes: up green, not_ready yellow, down and draining
/// red. nullopt, with `why` set, when `json` is not a /status document.
std::optional<std::vector<std::string>> render_status(std::string_view json, bool colour,
                                                      std::string& why);

}  // namespace cplb::app::status
