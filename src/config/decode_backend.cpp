#include "decode.hpp"
#include "view.hpp"

namespace cplb::config::detail {
namespace {

void decode_drain(reader& r, const YAML::Node& node, const YAML::Mark& at, const std::string& path,
                  drain_config& out) {
  map_view m(r, node, at, path, {"grace", "spread", "not_ready_grace"});
  if (!m.ok()) return;
  m.read("grace", duration_at_least(duration(0)), out.grace);
  m.read("spread", duration_at_least(duration(0)), out.spread);
  m.read("not_ready_grace", duration_at_least(duration(0)), out.not_ready_grace);
}

void decode_rebalance(reader& r, const YAML::Node& node, const YAML::Mark& at,
                      const std::string& path, rebalance_config& out) {
  map_view m(r, node, at, path, {"threshold", "spread", "quiet"});
  if (!m.ok()) return;
  if (m.read("threshold", decimal_number(0, 100), out.threshold) && out.threshold != 0 &&
      out.threshold <= 1)
    r.report(m.mark_of("threshold"), m.path_of("threshold"),
             "must be above 1 (a share of the fair share), or 0 to never rebalance");
  m.read("spread", duration_at_least(duration(1)), out.spread);
  m.read("quiet", duration_at_least(duration(0)), out.quiet);
}

void decode_server(reader& r, const YAML::Node& node, const YAML::Mark& at, const std::string& path,
                   server_config& out) {
  map_view m(r, node, at, path, {"name", "address", "weight"});
  if (!m.ok()) return;
  if (m.require("name")) m.read("name", name_text(), out.name);
  address_value address;
  if (m.require("address") && m.read("address", ip_address_with_port(), address)) {
    out.address = address.address;
    out.host = address.host;
  }
  m.read("weight", whole_number(1, 256), out.weight);
}

}  // namespace

void decode_backend(reader& r, const YAML::Node& node, const YAML::Mark& at,
                    const std::string& path, backend_config& out) {
  map_view m(r, node, at, path,
             {"name", "balance", "on_server_down", "drain", "all_down", "slow_start", "rebalance",
              "servers", "health_check"});
  if (!m.ok()) return;
  if (m.require("name")) m.read("name", name_text(), out.name);
  m.read("balance",
         one_of<balance_algorithm>("balance",
                                   {
                                       {"round_robin", balance_algorithm::round_robin},
                                       {"least_conn", balance_algorithm::least_conn},
                                       {"random_two", balance_algorithm::random_two},
                                       {"source_hash", balance_algorithm::source_hash},
                                   }),
         out.balance);
  m.read("on_server_down",
         one_of<on_server_down_policy>("on_server_down policy",
                                       {
                                           {"keep", on_server_down_policy::keep},
                                           {"close", on_server_down_policy::close},
                                           {"drain", on_server_down_policy::drain},
                                       }),
         out.on_server_down);
  if (const YAML::Node* n = m.find("drain"))
    decode_drain(r, *n, m.mark_of("drain"), m.path_of("drain"), out.drain);
  m.read("all_down",
         one_of<all_down_policy>("all_down policy",
                                 {
                                     {"reject", all_down_policy::reject},
                                     {"any_reachable", all_down_policy::any_reachable},
                                 }),
         out.all_down);
  m.read("slow_start", duration_at_least(duration(0)), out.slow_start);
  if (const YAML::Node* n = m.find("rebalance"))
    decode_rebalance(r, *n, m.mark_of("rebalance"), m.path_of("rebalance"), out.rebalance);

  if (m.require("servers")) {
    bool is_list = for_each_item(
        m, "servers",
        [&](const YAML::Node& item, const std::string& item_path, const YAML::Mark& item_at) {
          out.servers.emplace_back();
          if (has_value(r, item, item_at, item_path))
            decode_server(r, item, item_at, item_path, out.servers.back());
        });
    if (is_list && out.servers.empty())
      r.report(m.mark_of("servers"), m.path_of("servers"), "at least one server is required");
    if (out.servers.size() > max_servers_per_backend)
      r.report(m.mark_of("servers"), m.path_of("servers"),
               "has " + std::to_string(out.servers.size()) + " servers; at most " +
                   std::to_string(max_servers_per_backend) + " are allowed");
  }
  if (const YAML::Node* n = m.find("health_check"))
    decode_health_check(r, *n, m.mark_of("health_check"), m.path_of("health_check"),
                        out.health_check);
}

}  // namespace cplb::config::detail
