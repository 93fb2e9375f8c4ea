#include "cplb/anycast/announcer.hpp"

#include <algorithm>
#include <utility>

namespace cplb::anycast {

namespace {

/// Why a VIP is not announced, by what went wrong with the kernel.
using failures = std::map<ip_address, std::string>;

std::string failed(const char* what, std::error_code ec) { return std::string(what) + ": " + ec.message(); }

}  // namespace

announcer::announcer(kernel& k, observer on_change) : kernel_(k), on_change_(std::move(on_change)) {}

void announcer::configure(std::vector<announcement_settings> announcements) {
  announcements_ = std::move(announcements);
  configured_ = true;
  apply();
}

void announcer::set_backend_health(std::map<std::string, backend_health> health) {
  if (health == health_) return;
  health_ = std::move(health);
  if (configured_) apply();
}

void announcer::withdraw_all(const std::string& reason) {
  stopping_ = reason.empty() ? "stopping" : reason;
  apply();
}

std::size_t announcer::resync() {
  apply();
  return std::exchange(put_back_, 0);
}

std::string announcer::withdraw_reason(const announcement_settings& a) const {
  if (!stopping_.empty()) return stopping_;
  for (const auto& name : a.track_backends) {
    const auto it = health_.find(name);
    const auto health = it == health_.end() ? backend_health::unchecked : it->second;
    if (health == backend_health::unchecked) return "waiting for the first checks of backend " + name;
    if (health == backend_health::down) return "backend " + name + " has no server up";
  }
  return {};
}

void announcer::apply() {
  failures failed_vips;
  apply_locals(failed_vips);

  std::map<unsigned, std::set<ip_address>> wanted;
  for (const auto& a : announcements_) {
    auto& table = wanted[a.table];
    if (!withdraw_reason(a).empty()) continue;
    for (const auto& vip : a.virtual_ips)
      if (!failed_vips.count(vip)) table.insert(vip);
  }
  // Tables no announcement uses any more are emptied of cplb's routes once.
  for (unsigned table : tables_) wanted.try_emplace(table);
  tables_.clear();
  for (const auto& a : announcements_) tables_.insert(a.table);
  for (const auto& [table, vips] : wanted) apply_table(table, vips, failed_vips);

  std::vector<vip_status> next;
  for (const auto& a : announcements_) {
    const std::string why = withdraw_reason(a);
    for (const auto& vip : a.virtual_ips) {
      vip_status s{a.name, vip, a.table, why.empty(), why};
      if (const auto f = failed_vips.find(vip); f != failed_vips.end()) {
        // A failed removal leaves the route where it was.
        s.announced = f->second.starts_with("cannot remove");
        s.reason = f->second;
      }
      next.push_back(std::move(s));
    }
  }
  const auto same_vip = [](const vip_status& a, const vip_status& b) { return a.name == b.name && a.vip == b.vip; };
  std::vector<std::pair<vip_status, bool>> changes;  // reported once status() is the new one
  for (const auto& old : status_)
    if (std::none_of(next.begin(), next.end(), [&](const vip_status& s) { return same_vip(s, old); })) {
      vip_status gone = old;
      gone.announced = false;
      gone.reason = "removed from the configuration";
      changes.emplace_back(std::move(gone), true);
    }
  for (const auto& s : next) {
    const auto old = std::find_if(status_.begin(), status_.end(), [&](const vip_status& o) { return same_vip(s, o); });
    if (old == status_.end() || !(*old == s)) changes.emplace_back(s, false);
  }
  status_ = std::move(next);
  for (const auto& [vip, removed] : changes) on_change_(vip, removed);
}

void announcer::apply_locals(std::map<ip_address, std::string>& failed_vips) {
  std::set<ip_address> wanted;
  for (const auto& a : announcements_) wanted.insert(a.virtual_ips.begin(), a.virtual_ips.end());
  std::vector<ip_address> present;
  if (!kernel_.locals(present))
    for (const auto& vip : present)
      if (!wanted.count(vip)) kernel_.remove_local(vip);  // a VIP gone stops being local
  for (const auto& vip : wanted) {
    if (std::find(present.begin(), present.end(), vip) != present.end()) continue;
    if (std::any_of(status_.begin(), status_.end(), [&](const vip_status& s) { return s.vip == vip; })) ++put_back_;
    if (const auto ec = kernel_.add_local(vip)) failed_vips[vip] = failed("cannot make the VIP local", ec);
  }
}

void announcer::apply_table(unsigned table, const std::set<ip_address>& wanted,
                            std::map<ip_address, std::string>& failed_vips) {
  std::vector<found_route> found;
  if (const auto ec = kernel_.routes(table, found)) {
    for (const auto& vip : wanted) failed_vips[vip] = failed("cannot read the routing table", ec);
    return;
  }
  std::set<ip_address> in_place;
  for (const auto& r : found) {
    if (r.via_device && wanted.count(r.vip)) {
      in_place.insert(r.vip);
      continue;
    }
    if (const auto ec = kernel_.remove_route(table, r.vip)) failed_vips[r.vip] = failed("cannot remove the route", ec);
  }
  for (const auto& vip : wanted) {
    if (in_place.count(vip)) continue;
    if (std::any_of(status_.begin(), status_.end(),
                    [&](const vip_status& s) { return s.vip == vip && s.table == table && s.announced; }))
      ++put_back_;
    if (const auto ec = kernel_.add_route(table, vip)) failed_vips[vip] = failed("cannot add the route", ec);
  }
}

}  // namespace cplb::anycast
