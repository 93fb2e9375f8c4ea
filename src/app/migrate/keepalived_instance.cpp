#include "keepalived_instance.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include "names.hpp"
#include "numbers.hpp"
#include "words.hpp"
#include "yaml_writer.hpp"

namespace cplb::app::migrate::keepalived {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_interface_name = 15;  // IFNAMSIZ - 1
constexpr unsigned max_priority = 254;          // 255 is the address owner's
constexpr unsigned max_track_penalty = 253;

/// Why a line of a vrrp_instance is not carried over.
std::string_view why_not_in_instance(const std::string& keyword) {
  static const std::map<std::string, std::string_view, std::less<>> reasons{
      {"state", "cplb starts every instance as backup; the priority decides who is master"},
      {"unicast_src_ip", "cplb sends from the interface's first IPv4 address"},
      {"mcast_src_ip", "cplb sends from the interface's first IPv4 address"},
      {"preempt_delay", "cplb preempts at once"},
      {"garp_master_delay", "cplb sends its gratuitous ARPs at once, garp.count of them"},
      {"notify", "cplb runs no notify scripts: watch its logs or the cplb_vrrp_* metrics"},
      {"notify_master", "cplb runs no notify scripts: watch its logs or the cplb_vrrp_* metrics"},
      {"notify_backup", "cplb runs no notify scripts: watch its logs or the cplb_vrrp_* metrics"},
      {"notify_fault", "cplb runs no notify scripts: watch its logs or the cplb_vrrp_* metrics"},
      {"notify_stop", "cplb runs no notify scripts: watch its logs or the cplb_vrrp_* metrics"},
      {"smtp_alert", no_mail},
      {"use_vmac", "cplb keeps the interface's own MAC address"},
      {"vmac_xmit_base", "cplb keeps the interface's own MAC address"},
      {"virtual_ipaddress_excluded", "cplb advertises all its virtual IPs"},
      {"virtual_routes", "cplb manages only its virtual IPs"},
      {"virtual_rules", "cplb manages only its virtual IPs"},
      {"track_interface", "cplb follows its interface's link itself"},
      {"dont_track_primary", "cplb follows its interface's link itself"},
      {"track_file", no_scripts},
      {"track_process", no_scripts},
  };
  const auto it = reasons.find(keyword);
  return it == reasons.end() ? "cplb has no equivalent" : it->second;
}

std::optional<std::uint32_t> ipv4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

/// False for 0.0.0.0/8, multicast and reserved addresses, as cplb's validation has it.
bool is_unicast(std::uint32_t a) { return (a >> 24) != 0 && a < 0xe0000000u; }

class instance_mapper {
 public:
  instance_mapper(const node& block, const defaults& d, const std::vector<std::string>& backends,
                  registry& taken)
      : block_(block), defaults_(d), backends_(backends), taken_(taken) {}

  /// The instance, or nullopt with the reason in `dropped`.
  std::optional<vrrp_draft> run(remarks& dropped) {
    for (const node& n : block_.children) read(n);
    if (vips_block_) read_virtual_ips(*vips_block_);  // after the interface its `dev` may name
    map_version_and_interval();
    map_tracking();
    if (!v_.garp.count) v_.garp.count = defaults_.garp.count;
    if (!v_.garp.interval) v_.garp.interval = defaults_.garp.interval;
    if (!v_.garp.refresh) v_.garp.refresh = defaults_.garp.refresh;

    std::string missing;
    if (interface_.empty())
      missing = "an interface";
    else if (v_.virtual_router_id.text.empty())
      missing = "a virtual_router_id";
    else if (vips_.empty())
      missing = "an IPv4 virtual_ipaddress";
    const std::string router = interface_ + "/" + v_.virtual_router_id.text;
    std::string why = missing.empty() ? "" : "it has no " + missing + " cplb can take";
    if (why.empty() && taken_.routers.count(router))
      why = "another instance has virtual_router_id " + v_.virtual_router_id.text + " on " +
            interface_;
    const std::string what = "vrrp_instance " + block_.arg();
    if (!why.empty()) {
      dropped.insert(dropped.end(), v_.notes.begin(), v_.notes.end());
      dropped.push_back(not_carried_over(what, block_.at, why));
      return std::nullopt;
    }
    taken_.routers.insert(router);
    v_.name = value{yaml_scalar(unique_name(cplb_name(block_.arg(), "VI"), taken_.names)),
                    from(what, block_.at)};
    v_.virtual_ips = value{yaml_flow_list(vips_), from("virtual_ipaddress", vips_at_)};
    if (!peers_.empty())
      v_.unicast_peers = value{yaml_flow_list(peers_), from("unicast_peer", peers_at_)};
    return std::move(v_);
  }

 private:
  void note(const node& n, std::string_view why) {
    v_.notes.push_back(not_carried_over(n.text(), n.at, std::string(why)));
  }

  void read(const node& n) {
    const std::string& k = n.keyword();
    const std::string source = from(n.text(), n.at);
    if (k == "interface") {
      if (n.arg().empty() || n.arg().size() > max_interface_name ||
          n.arg().find_first_of("/:") != std::string::npos)
        note(n, "not an interface name cplb can take");
      else {
        interface_ = n.arg();
        v_.interface = value{yaml_scalar(interface_), source};
      }
    } else if (k == "virtual_router_id") {
      if (whole_number(n.arg(), 1, 255))
        v_.virtual_router_id = value{n.arg(), source};
      else
        note(n, "cplb takes 1-255");
    } else if (k == "priority") {
      read_priority(n);
    } else if (k == "advert_int") {
      advert_ = &n;
    } else if (k == "version" || k == "vrrp_version") {
      if (n.arg() == "2" || n.arg() == "3")
        version_ = &n;
      else
        note(n, "cplb speaks VRRP version 2 or 3");
    } else if (k == "nopreempt") {
      v_.preempt = value{"false", source};
    } else if (k == "preempt") {
      v_.preempt = value{"true", source};
    } else if (k == "unicast_peer") {
      read_peers(n);
    } else if (k == "virtual_ipaddress") {
      vips_block_ = &n;
    } else if (k == "track_script") {
      track_ = &n;
    } else if (k == "authentication") {
      for (const node& a : n.children)
        v_.notes.push_back(not_carried_over(
            a.keyword() == "auth_pass" ? "auth_pass" : a.text(), a.at,
            "cplb does not support VRRP authentication (drop it on the keepalived peers too, or "
            "they ignore cplb's adverts)"));
    } else if (k == "garp_master_repeat" && whole_number(n.arg(), 0, 100)) {
      v_.garp.count = value{n.arg(), source};
    } else if (k == "garp_interval" && decimal_seconds(n.arg()) > 0ms) {
      v_.garp.interval = value{format_duration(*decimal_seconds(n.arg())), source};
    } else if (k == "garp_master_refresh" && whole_number(n.arg(), 0, 1'000'000)) {
      v_.garp.refresh = value{n.arg() + "s", source};
    } else {
      note(n, why_not_in_instance(k));
    }
  }

  void read_priority(const node& n) {
    const auto p = whole_number(n.arg(), 1, 255);
    if (!p) return note(n, "cplb takes 1-254");
    priority_ = static_cast<unsigned>(std::min<unsigned long>(*p, max_priority));
    v_.priority = value{std::to_string(priority_),
                        from(n.text(), n.at) + (*p > max_priority ? ": cplb is never the address "
                                                                    "owner, 254 is its highest"
                                                                  : "")};
  }

  void read_peers(const node& block) {
    peers_at_ = block.at;
    for (const node& n : block.children) {
      const auto a = ipv4(n.keyword());
      if (!a || !is_unicast(*a)) {
        note(n, "cplb's unicast peers are IPv4 unicast addresses");
        continue;
      }
      if (std::find(peers_.begin(), peers_.end(), n.keyword()) == peers_.end())
        peers_.push_back(n.keyword());
      if (n.words.size() > 1) note(n, "cplb takes the peer's address only");
    }
  }

  void read_virtual_ips(const node& block) {
    vips_at_ = block.at;
    for (const node& n : block.children) {
      const std::string& text = n.keyword();
      const auto slash = text.find('/');
      const auto a = ipv4(text.substr(0, slash));
      const bool prefix_ok =
          slash == std::string::npos || whole_number(text.substr(slash + 1), 1, 32).has_value();
      if (!a || !prefix_ok || !is_unicast(*a)) {
        note(n, "migrate carries IPv4 unicast virtual IPs only, as in 10.0.0.100/24 (write IPv6 ones "
                "by hand: README, IPv6 and dual stack)");
        continue;
      }
      if (taken_.virtual_ips.count(*a)) {
        note(n, "another virtual IP list has it already");
        continue;
      }
      taken_.virtual_ips.insert(*a);
      vips_.push_back(text);
      // `dev` naming the instance's own interface says nothing cplb does not do already.
      std::vector<std::string> dropped;
      for (std::size_t i = 1; i < n.words.size(); ++i) {
        if (n.words[i] == "dev" && i + 1 < n.words.size() && n.words[i + 1] == interface_) {
          ++i;
          continue;
        }
        dropped.push_back(n.words[i]);
      }
      if (!dropped.empty())
        v_.notes.push_back(not_carried_over(
            join_words(dropped) + " of " + text, n.at,
            "cplb adds the address alone, with its prefix, on the instance's interface"));
    }
  }

  void map_version_and_interval() {
    const unsigned version = version_ ? (version_->arg() == "2" ? 2 : 3) : defaults_.version;
    const node* version_line = version_ ? version_ : defaults_.version_line;
    v_.version = value{std::to_string(version),
                       version_line ? from(version_line->text(), version_line->at)
                                    : "keepalived's default, so that the pair interoperates"};
    if (!advert_) return;
    const auto d = decimal_seconds(advert_->arg());
    if (!d || *d <= 0ms) return note(*advert_, "not an interval in seconds");
    // The advert carries centiseconds (v3) or seconds (v2).
    const duration step = version == 3 ? duration(10) : duration(1000);
    const duration most = version == 3 ? duration(40950) : duration(255'000);
    const duration rounded = std::clamp((*d + step / 2) / step * step, step, most);
    v_.advert_interval = value{format_duration(rounded),
                               from(advert_->text(), advert_->at) +
                                   (rounded != *d ? ": VRRPv" + std::to_string(version) +
                                                        " carries " + format_duration(rounded)
                                                  : "")};
  }

  /// keepalived adds the weights of the scripts that succeed (positive) or fail (negative), and a
  /// script of weight 0 that fails puts the instance in FAULT. cplb lowers its priority by
  /// track_penalty while a tracked backend has no healthy server: the scripts are taken to
  /// check what the backends do, and so to fail together.
  void map_tracking() {
    if (!track_) return;
    long gain = 0;
    long loss = 0;
    bool fault = false;
    std::vector<std::string> names;
    std::string weights;  // where each weight was set, for the comment
    for (const node& n : track_->children) {
      const auto it = defaults_.scripts.find(n.keyword());
      if (it == defaults_.scripts.end()) {
        note(n, "no vrrp_script has this name");
        continue;
      }
      long weight = it->second.weight;
      std::string weight_source = it->second.weight_line
                                      ? from(it->second.weight_line->text() + " of " + n.keyword(),
                                             it->second.weight_line->at)
                                      : "weight 0 of " + n.keyword() + " (keepalived's default)";
      if (n.words.size() == 3 && n.words[1] == "weight") {
        if (const auto w = signed_number(n.words[2])) {
          weight = *w;
          weight_source = from(n.text(), n.at);
        } else {
          note(n, "not a weight");
        }
      }
      weights += (weights.empty() ? "" : ", ") + weight_source;
      (weight > 0 ? gain : loss) += std::labs(weight);
      fault = fault || weight == 0;
      names.push_back(n.keyword());
    }
    if (names.empty()) return;
    const std::string scripts = join_words(names);
    v_.notes.push_back(not_carried_over(
        "track_script " + scripts, track_->at,
        std::string(no_scripts) + ": track_backends stands in, lowering the priority while a "
                                  "backend has no healthy server"));
    if (backends_.empty()) return;
    v_.track_backends = value{yaml_flow_list(backends_),
                              "instead of " + from("track_script " + scripts, track_->at)};
    const unsigned base = priority_ + static_cast<unsigned>(std::min(gain, 253L));
    if (gain > 0)
      v_.priority = value{std::to_string(std::min(base, max_priority)),
                          "priority plus the weight of the scripts that succeed"};
    const unsigned penalty =
        fault ? base - 1 : static_cast<unsigned>(std::min<long>(gain + loss, max_track_penalty));
    v_.track_penalty =
        value{std::to_string(std::min(penalty, max_track_penalty)),
              fault ? "a failing script of weight 0 put keepalived in FAULT: this drops below "
                      "any peer"
                    : weights};
  }

  const node& block_;
  const defaults& defaults_;
  const std::vector<std::string>& backends_;
  registry& taken_;
  vrrp_draft v_;
  std::string interface_;
  unsigned priority_ = 100;  // keepalived's and cplb's default
  const node* advert_ = nullptr;
  const node* version_ = nullptr;
  const node* track_ = nullptr;
  const node* vips_block_ = nullptr;
  std::vector<std::string> peers_;
  origin peers_at_;
  std::vector<std::string> vips_;
  origin vips_at_;
};

}  // namespace

std::optional<vrrp_draft> map_instance(const node& block, const defaults& d,
                                       const std::vector<std::string>& backends, registry& taken,
                                       remarks& dropped) {
  return instance_mapper(block, d, backends, taken).run(dropped);
}

}  // namespace cplb::app::migrate::keepalived
