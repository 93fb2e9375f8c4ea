#pragma once
#include <functional>
#include <set>
#include <string_view>
#include <vector>

#include "haproxy_syntax.hpp"

namespace cplb::app::migrate::haproxy {

/// The lines that went into the output. Every other line of a section carried over gets a
/// `not carried over` comment.
class ledger {
 public:
  void use(const directive& d) { used_.insert(&d); }
  bool used(const directive& d) const { return used_.count(&d) != 0; }

 private:
  std::set<const directive*> used_;
};

/// One proxy as HAProxy reads it: its own lines over those of its defaults section. Lookups
/// mark what they return as used.
class proxy_view {
 public:
  proxy_view(const document& doc, const section& self, ledger& used);

  const section& self() const { return self_; }
  /// The last line `keyword [sub]` of the section, else of its defaults section; nullptr when
  /// neither has one.
  const directive* last(std::string_view keyword, std::string_view sub = {});
  /// The last line that `match` accepts, in the section, else in its defaults section.
  const directive* last_where(const std::function<bool(const directive&)>& match);
  /// The `keyword` lines of the defaults section.
  std::vector<const directive*> inherited(std::string_view keyword);
  /// The `keyword` lines of the section if it has any, else those of its defaults section (the
  /// way HAProxy inherits rule lists such as `http-check`).
  std::vector<const directive*> rules(std::string_view keyword);
  void use(const directive& d) { used_.use(d); }

 private:
  const section& self_;
  const section* defaults_;
  ledger& used_;
};

}  // namespace cplb::app::migrate::haproxy
