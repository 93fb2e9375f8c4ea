#include "cplb/app/migrate.hpp"

#include <filesystem>

#include "cplb/config/load.hpp"
#include "haproxy_mapping.hpp"
#include "keepalived_mapping.hpp"
#include "yaml_writer.hpp"

namespace cplb::app::migrate {
namespace {

/// The directory of `path`, absolute: relative file names in the HAProxy config start there.
std::string directory_of(const std::string& path) {
  return std::filesystem::absolute(path).parent_path().string();
}

}  // namespace

std::string error::to_string() const {
  return file + ":" + (line > 0 ? std::to_string(line) + ":" : "") + " " + message;
}

std::variant<std::string, error> migrate(const inputs& in) {
  auto doc = haproxy::parse(in.haproxy);
  if (auto* e = std::get_if<error>(&doc)) return *e;
  draft d;
  d.sources.push_back(in.haproxy.path);
  if (auto e = haproxy::map_haproxy(in.haproxy, std::get<haproxy::document>(doc),
                                    directory_of(in.haproxy.path), in.read_file, d))
    return *e;
  if (in.keepalived) {
    auto top = keepalived::parse(*in.keepalived);
    if (auto* e = std::get_if<error>(&top)) return *e;
    d.sources.push_back(in.keepalived->path);
    keepalived::map_keepalived(std::get<std::vector<keepalived::node>>(top), d);
  }
  std::string yaml = write_yaml(d);
  // The mappers keep to what cplb accepts; should one not, say so rather than print a config
  // that `cplb --check` refuses.
  const auto loaded = config::load_string(yaml, "(the migrated config)");
  if (const auto* problems = std::get_if<std::vector<config::problem>>(&loaded))
    return error{in.haproxy.path, 0,
                 "cplb migrate wrote a config that does not pass --check (please report it): " +
                     problems->front().to_string()};
  return yaml;
}

}  // namespace cplb::app::migrate
