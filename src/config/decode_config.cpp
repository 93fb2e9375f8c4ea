#include <limits>

#include "decode.hpp"
#include "view.hpp"

namespace cplb::config::detail {
namespace {

void decode_global(reader& r, const YAML::Node& node, const YAML::Mark& at, global_config& out) {
  map_view m(r, node, at, "global", {"workers", "max_connections", "shutdown_grace", "max_buffer_memory", "data_path"});
  if (!m.ok()) return;
  m.read("workers", whole_number(0, 1024), out.workers);
  m.read("max_connections", whole_number(1, 10'000'000), out.max_connections);
  m.read("shutdown_grace", duration_at_least(duration(0)), out.shutdown_grace);
  m.read("max_buffer_memory", byte_size(64 * 1024, 1ull << 40), out.max_buffer_memory);
  m.read("data_path",
         one_of<data_path>("data path", {{"auto", data_path::automatic},
                                         {"sockmap", data_path::sockmap},
                                         {"epoll", data_path::epoll}}),
         out.path);
}

void decode_admin(reader& r, const YAML::Node& node, const YAML::Mark& at, admin_config& out) {
  map_view m(r, node, at, "admin", {"listen"});
  if (!m.ok()) return;
  address_value listen{out.listen, {}};
  if (m.read("listen", ip_address_with_port(), listen)) out.listen = listen.address;
}

/// Decodes each item of the list at `key` with `decode` into `out` (one entry per item, so
/// indexes match key paths); reports an empty list when at least one item is required.
template <typename T, typename Decode>
void decode_list(map_view& root, const char* key, const char* noun, bool required,
                 std::vector<T>& out, Decode decode) {
  bool is_list = for_each_item(
      root, key, [&](const YAML::Node& item, const std::string& path, const YAML::Mark& at) {
        out.emplace_back();
        if (has_value(root.problems(), item, at, path))
          decode(root.problems(), item, at, path, out.back());
      });
  if (is_list && required && out.empty())
    root.problems().report(root.mark_of(key), key,
                           std::string("at least one ") + noun + " is required");
}

}  // namespace

void decode_config(reader& r, const YAML::Node& root, config& out) {
  // An empty file has no mark worth showing: its problems go to 1:1.
  YAML::Mark top = root.IsMap() ? root.Mark() : YAML::Mark();
  map_view m(r, root, top, "", {"global", "admin", "frontends", "backends", "vrrp_instances", "anycast"});
  if (!m.ok()) return;
  if (const YAML::Node* n = m.find("global")) decode_global(r, *n, m.mark_of("global"), out.global);
  if (const YAML::Node* n = m.find("admin")) decode_admin(r, *n, m.mark_of("admin"), out.admin);
  decode_list(m, "frontends", "frontend", true, out.frontends, decode_frontend);
  decode_list(m, "backends", "backend", true, out.backends, decode_backend);
  decode_list(m, "vrrp_instances", "VRRP instance", false, out.vrrp_instances,
              decode_vrrp_instance);
  decode_list(m, "anycast", "anycast entry", false, out.anycast, decode_anycast);
}

void decode_frontend(reader& r, const YAML::Node& node, const YAML::Mark& at,
                     const std::string& path, frontend_config& out) {
  map_view m(r, node, at, path,
             {"name", "listen", "backend", "connect_timeout", "idle_timeout", "retries",
              "tcp_keepalive", "tcp_user_timeout", "first_data_timeout", "max_connections_per_source"});
  if (!m.ok()) return;
  if (m.require("name")) m.read("name", name_text(), out.name);
  address_value listen{out.listen, {}};
  if (m.read("listen", ip_address_with_port(), listen)) out.listen = listen.address;
  if (m.require("backend")) m.read("backend", name_text(), out.backend);
  m.read("connect_timeout", duration_at_least(duration(1)), out.connect_timeout);
  m.read("idle_timeout", duration_at_least(duration(1)), out.idle_timeout);
  m.read("retries", whole_number(0, 63), out.retries);
  // TCP_KEEPIDLE counts whole seconds, up to 32767.
  if (m.read("tcp_keepalive", duration_at_least(duration(0)), out.tcp_keepalive)) {
    if (out.tcp_keepalive % std::chrono::seconds(1) != duration(0))
      r.report(m.mark_of("tcp_keepalive"), m.path_of("tcp_keepalive"),
               "must be whole seconds (TCP keepalive counts in seconds)");
    else if (out.tcp_keepalive > std::chrono::seconds(32767))
      r.report(m.mark_of("tcp_keepalive"), m.path_of("tcp_keepalive"),
               "is too long (at most 32767s)");
  }
  if (m.read("tcp_user_timeout", duration_at_least(duration(0)), out.tcp_user_timeout) &&
      out.tcp_user_timeout.count() > std::numeric_limits<int>::max())
    r.report(m.mark_of("tcp_user_timeout"), m.path_of("tcp_user_timeout"), "is too long");
  m.read("first_data_timeout", duration_at_least(duration(0)), out.first_data_timeout);
  m.read("max_connections_per_source", whole_number(0, 1'000'000), out.max_connections_per_source);
}

}  // namespace cplb::config::detail
