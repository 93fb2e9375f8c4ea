#include "haproxy_context.hpp"

namespace cplb::app::migrate::haproxy {

void context::remark(remarks& notes, const std::string& note) {
  if (said_.insert(note).second) notes.push_back(note);
}

std::string context::resolve(const std::string& name, const std::string& base) const {
  if (name.starts_with("/")) return name;
  std::string dir = base.empty() ? config_dir : base;
  if (!dir.starts_with("/")) dir = config_dir + "/" + dir;
  return dir + "/" + name;
}

}  // namespace cplb::app::migrate::haproxy
