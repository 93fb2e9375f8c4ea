#include "haproxy_proxy.hpp"

namespace cplb::app::migrate::haproxy {
namespace {

const directive* last_in(const section& s, const std::function<bool(const directive&)>& match) {
  for (auto it = s.lines.rbegin(); it != s.lines.rend(); ++it)
    if (match(*it)) return &*it;
  return nullptr;
}

std::vector<const directive*> all_in(const section& s, std::string_view keyword) {
  std::vector<const directive*> out;
  for (const auto& d : s.lines)
    if (d.keyword() == keyword) out.push_back(&d);
  return out;
}

}  // namespace

proxy_view::proxy_view(const document& doc, const section& self, ledger& used)
    : self_(self),
      defaults_(self.defaults ? &doc.sections[*self.defaults] : nullptr),
      used_(used) {}

const directive* proxy_view::last(std::string_view keyword, std::string_view sub) {
  return last_where([&](const directive& d) {
    return d.keyword() == keyword && (sub.empty() || d.sub() == sub);
  });
}

const directive* proxy_view::last_where(const std::function<bool(const directive&)>& match) {
  const directive* found = last_in(self_, match);
  if (!found && defaults_) found = last_in(*defaults_, match);
  if (found) used_.use(*found);
  return found;
}

std::vector<const directive*> proxy_view::inherited(std::string_view keyword) {
  std::vector<const directive*> out;
  if (defaults_) out = all_in(*defaults_, keyword);
  for (const directive* d : out) used_.use(*d);
  return out;
}

std::vector<const directive*> proxy_view::rules(std::string_view keyword) {
  std::vector<const directive*> out = all_in(self_, keyword);
  if (out.empty() && defaults_) out = all_in(*defaults_, keyword);
  for (const directive* d : out) used_.use(*d);
  return out;
}

}  // namespace cplb::app::migrate::haproxy
