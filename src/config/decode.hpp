#pragma once
#include <yaml-cpp/yaml.h>

#include <string>

#include "cplb/config/config.hpp"
#include "reader.hpp"

// Internal to the config module: YAML nodes to config structs, with every per-value check.
// Checks across entries (duplicates, references) are in validate.hpp. Each function reads `node`
// at `path` into `out` (which holds the defaults); `at` is where to report the node as a whole.
namespace cplb::config::detail {

/// The whole file.
void decode_config(reader& r, const YAML::Node& root, config& out);
/// One entry of `frontends:`.
void decode_frontend(reader& r, const YAML::Node& node, const YAML::Mark& at,
                     const std::string& path, frontend_config& out);
/// One entry of `backends:`.
void decode_backend(reader& r, const YAML::Node& node, const YAML::Mark& at,
                    const std::string& path, backend_config& out);
/// `health_check:` of a backend.
void decode_health_check(reader& r, const YAML::Node& node, const YAML::Mark& at,
                         const std::string& path, health_check_config& out);
/// One entry of `vrrp_instances:`.
void decode_vrrp_instance(reader& r, const YAML::Node& node, const YAML::Mark& at,
                          const std::string& path, vrrp_instance_config& out);

/// One entry of `anycast:`.
void decode_anycast(reader& r, const YAML::Node& node, const YAML::Mark& at, const std::string& path,
                    anycast_config& out);

}  // namespace cplb::config::detail
