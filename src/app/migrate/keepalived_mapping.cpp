#include "keepalived_mapping.hpp"

#include "keepalived_instance.hpp"
#include "numbers.hpp"

namespace cplb::app::migrate::keepalived {
namespace {

using namespace std::chrono_literals;

void read_global_defs(const node& block, defaults& d, remarks& notes) {
  for (const node& n : block.children) {
    const std::string& k = n.keyword();
    if (k == "vrrp_version" && (n.arg() == "2" || n.arg() == "3")) {
      d.version = n.arg() == "2" ? 2 : 3;
      d.version_line = &n;
    } else if (k == "vrrp_garp_master_repeat" && whole_number(n.arg(), 0, 100)) {
      d.garp.count = value{n.arg(), from(n.text(), n.at)};
    } else if (k == "vrrp_garp_interval" && decimal_seconds(n.arg()) > 0ms) {
      d.garp.interval = value{format_duration(*decimal_seconds(n.arg())), from(n.text(), n.at)};
    } else if (k == "vrrp_garp_master_refresh" && whole_number(n.arg(), 0, 1'000'000)) {
      d.garp.refresh = value{n.arg() + "s", from(n.text(), n.at)};
    } else {
      const bool mail = k.starts_with("notification_email") || k.starts_with("smtp_");
      const bool scripts = k == "enable_script_security" || k == "script_user";
      notes.push_back(not_carried_over(n.text(), n.at,
                                       mail      ? std::string(no_mail)
                                       : scripts ? std::string(no_scripts)
                                                 : "cplb has no equivalent"));
    }
  }
}

void read_script(const node& block, defaults& d, remarks& notes) {
  script s{&block, 0, nullptr};
  for (const node& n : block.children) {
    if (n.keyword() != "weight") continue;
    if (const auto w = signed_number(n.arg())) {
      s.weight = *w;
      s.weight_line = &n;
    }
  }
  d.scripts[block.arg()] = s;
  notes.push_back(not_carried_over(
      "vrrp_script " + block.arg(), block.at,
      std::string(no_scripts) + "; an instance that tracks it gets track_backends instead"));
}

/// Why a top-level block other than global_defs, vrrp_script and vrrp_instance is not carried.
std::string why_not_at_top(const std::string& keyword) {
  if (keyword == "vrrp_sync_group")
    return "cplb syncs no groups: give each instance track_backends";
  if (keyword.starts_with("virtual_server"))
    return "cplb is a TCP proxy, not an LVS director: its frontends come from the HAProxy config";
  if (keyword.starts_with("static_")) return "cplb manages only its virtual IPs";
  if (keyword == "include") return "cplb migrate reads one keepalived file: migrate that one too";
  return "cplb has no equivalent";
}

}  // namespace

void map_keepalived(const std::vector<node>& top, draft& out) {
  defaults d;
  for (const node& n : top) {
    if (n.keyword() == "global_defs")
      read_global_defs(n, d, out.vrrp_notes);
    else if (n.keyword() == "vrrp_script")
      read_script(n, d, out.vrrp_notes);
  }
  std::vector<std::string> backends;
  for (const auto& b : out.backends) backends.push_back(b.plain_name);
  registry taken;
  for (const node& n : top) {
    if (n.keyword() == "global_defs" || n.keyword() == "vrrp_script") continue;
    if (n.keyword() != "vrrp_instance") {
      out.vrrp_notes.push_back(not_carried_over(n.text(), n.at, why_not_at_top(n.keyword())));
      continue;
    }
    if (auto v = map_instance(n, d, backends, taken, out.vrrp_notes))
      out.vrrp_instances.push_back(std::move(*v));
  }
}

}  // namespace cplb::app::migrate::keepalived
