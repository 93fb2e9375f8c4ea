#include "yaml_writer.hpp"

#include <yaml-cpp/yaml.h>

namespace cplb::app::migrate {
namespace {

/// Trailing comments start in this column when the line leaves room, so they read as a column.
constexpr std::size_t comment_column = 40;

/// Writes lines of YAML at an indentation, values with their trailing comments.
class lines {
 public:
  void key(int indent, const std::string& key, const value& v) {
    put(pad(indent) + key + ": " + v.text, v.source);
  }
  void key(int indent, const std::string& key, const field& f) {
    if (f) this->key(indent, key, *f);
  }
  void open(int indent, const std::string& key) { put(pad(indent) + key + ":", ""); }
  /// A list item that is a map: `- name: x`, its other keys at indent + 2.
  void item(int indent, const std::string& key, const value& v) {
    put(pad(indent) + "- " + key + ": " + v.text, v.source);
  }
  void item_line(int indent, const std::string& text, const std::string& source) {
    put(pad(indent) + "- " + text, source);
  }
  void comments(int indent, const remarks& notes) {
    for (const auto& note : notes) put(pad(indent) + (note.empty() ? "#" : "# " + note), "");
  }
  void blank() { out_ += "\n"; }
  std::string take() { return std::move(out_); }

 private:
  static std::string pad(int indent) { return std::string(static_cast<std::size_t>(indent), ' '); }

  void put(std::string line, const std::string& source) {
    if (!source.empty()) {
      line.resize(std::max(line.size() + 2, comment_column), ' ');
      line += "# " + source;
    }
    out_ += line + "\n";
  }

  std::string out_;
};

bool any(const tls_draft& t) {
  return t.ca_file || t.cert_file || t.key_file || t.server_name || t.insecure_skip_verify;
}

void write_health_check(lines& out, const health_check_draft& h) {
  out.open(4, "health_check");
  out.key(6, "protocol", h.protocol);
  out.key(6, "path", h.path);
  out.key(6, "port", h.port);
  out.key(6, "interval", h.interval);
  out.key(6, "timeout", h.timeout);
  out.key(6, "fast_interval", h.fast_interval);
  out.key(6, "rise", h.rise);
  out.key(6, "fall", h.fall);
  out.key(6, "expect_status", h.expect_status);
  if (!h.headers.empty()) {
    out.open(6, "headers");
    for (const auto& [name, v] : h.headers) out.key(8, yaml_scalar(name), v);
  }
  if (any(h.tls)) {
    out.open(6, "tls");
    out.key(8, "ca_file", h.tls.ca_file);
    out.key(8, "cert_file", h.tls.cert_file);
    out.key(8, "key_file", h.tls.key_file);
    out.key(8, "server_name", h.tls.server_name);
    out.key(8, "insecure_skip_verify", h.tls.insecure_skip_verify);
  }
}

void write_backend(lines& out, const backend_draft& b) {
  out.item(2, "name", b.name);
  out.key(4, "balance", b.balance);
  out.key(4, "on_server_down", b.on_server_down);
  out.key(4, "slow_start", b.slow_start);
  out.open(4, "servers");
  for (const auto& s : b.servers) out.item_line(6, yaml_server(s), s.source);
  const health_check_draft& h = b.health_check;
  if (h.protocol || h.path || h.port || h.interval || h.timeout || h.fast_interval || h.rise ||
      h.fall || h.expect_status || !h.headers.empty() || any(h.tls))
    write_health_check(out, h);
  out.comments(4, b.notes);
}

void write_vrrp_instance(lines& out, const vrrp_draft& v) {
  out.item(2, "name", v.name);
  out.key(4, "interface", v.interface);
  out.key(4, "virtual_router_id", v.virtual_router_id);
  out.key(4, "priority", v.priority);
  out.key(4, "advert_interval", v.advert_interval);
  out.key(4, "version", v.version);
  out.key(4, "preempt", v.preempt);
  out.key(4, "unicast_peers", v.unicast_peers);
  out.key(4, "virtual_ips", v.virtual_ips);
  out.key(4, "track_backends", v.track_backends);
  out.key(4, "track_penalty", v.track_penalty);
  if (v.garp.count || v.garp.interval || v.garp.refresh) {
    out.open(4, "garp");
    out.key(6, "count", v.garp.count);
    out.key(6, "interval", v.garp.interval);
    out.key(6, "refresh", v.garp.refresh);
  }
  out.comments(4, v.notes);
}

}  // namespace

std::string yaml_scalar(const std::string& text) {
  YAML::Emitter e;
  e << text;
  return e.c_str();
}

std::string yaml_flow_list(const std::vector<std::string>& items) {
  YAML::Emitter e;
  e << YAML::Flow << YAML::BeginSeq;
  for (const auto& item : items) e << item;
  e << YAML::EndSeq;
  return e.c_str();
}

std::string yaml_server(const server_draft& s) {
  YAML::Emitter e;
  e << YAML::Flow << YAML::BeginMap;
  e << YAML::Key << "name" << YAML::Value << s.name;
  e << YAML::Key << "address" << YAML::Value << s.address;
  if (s.weight) e << YAML::Key << "weight" << YAML::Value << s.weight->text;
  e << YAML::EndMap;
  return e.c_str();
}

std::string write_yaml(const draft& d) {
  lines out;
  out.comments(0, {"cplb configuration written by `cplb migrate` from:"});
  for (const auto& path : d.sources) out.comments(0, {"  " + path});
  out.comments(0, {"Review the \"not carried over\" lines, then check it: cplb -c FILE --check"});
  if (!d.notes.empty()) {
    out.comments(0, {""});
    out.comments(0, d.notes);
  }
  if (d.workers || d.max_connections || d.shutdown_grace) {
    out.blank();
    out.open(0, "global");
    out.key(2, "workers", d.workers);
    out.key(2, "max_connections", d.max_connections);
    out.key(2, "shutdown_grace", d.shutdown_grace);
  }
  out.blank();
  out.open(0, "frontends");
  for (const auto& f : d.frontends) {
    out.item(2, "name", f.name);
    out.key(4, "listen", f.listen);
    out.key(4, "backend", f.backend);
    out.key(4, "connect_timeout", f.connect_timeout);
    out.key(4, "idle_timeout", f.idle_timeout);
    out.key(4, "retries", f.retries);
    out.comments(4, f.notes);
  }
  out.blank();
  out.open(0, "backends");
  for (const auto& b : d.backends) write_backend(out, b);
  if (!d.vrrp_instances.empty()) {
    out.blank();
    out.open(0, "vrrp_instances");
    out.comments(2, d.vrrp_notes);
    for (const auto& v : d.vrrp_instances) write_vrrp_instance(out, v);
  } else if (!d.vrrp_notes.empty()) {
    out.blank();
    out.comments(0, d.vrrp_notes);
  }
  return out.take();
}

}  // namespace cplb::app::migrate
