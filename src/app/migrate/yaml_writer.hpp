#pragma once
#include <string>
#include <vector>

#include "draft.hpp"

namespace cplb::app::migrate {

/// `text` as a YAML scalar, quoted only where YAML needs it.
std::string yaml_scalar(const std::string& text);

/// `[a, b]`, each item quoted where needed.
std::string yaml_flow_list(const std::vector<std::string>& items);

/// The server as a one-line map: `{name: m1, address: 10.0.0.11:6443, weight: 2}`.
std::string yaml_server(const server_draft& s);

/// The draft as a commented cplb config.
std::string write_yaml(const draft& d);

}  // namespace cplb::app::migrate
