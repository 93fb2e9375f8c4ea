#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "decode.hpp"
#include "view.hpp"

namespace cplb::config::detail {
namespace {

/// Empty when `path` is a readable regular file; otherwise why not.
std::string unreadable(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return "cannot read '" + path + "': " + std::strerror(errno);
  struct stat st {};
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  return regular ? "" : "'" + path + "' is not a regular file";
}

/// Reads the file name at `key` into `out`, resolved against the config's directory. A file
/// that is named must exist and be readable now, so that a typo fails at load and not at the
/// first probe.
void read_file_name(map_view& m, std::string_view key, std::string& out) {
  std::string name;
  if (!m.read(key, any_text(), name) || name.empty()) return;
  out = m.problems().resolve(name);
  std::string why = unreadable(out);
  if (!why.empty()) m.problems().report(m.mark_of(key), m.path_of(key), why);
}

bool is_printable_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

bool is_header_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
  });
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void decode_headers(reader& r, const YAML::Node& node, const YAML::Mark& at,
                    const std::string& path, bool has_bearer_token,
                    std::map<std::string, std::string>& out) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    r.report(node.Mark(), path, "expected a map of header names to values, found " + kind_of(node));
    return;
  }
  r.locate(path, at);
  std::map<std::string, int> seen;  // lower-case name -> line
  for (const auto& kv : node) {
    const YAML::Node& k = kv.first;
    std::string name = k.IsScalar() ? k.Scalar() : "";
    std::string header_path = path + "." + name;
    std::string key = lower(name);
    if (!is_header_name(name)) {
      r.report(k.Mark(), path, kind_of(k) + " is not a valid header name");
      continue;
    }
    if (auto first = seen.find(key); first != seen.end()) {
      r.report(k.Mark(), header_path,
               "duplicate header (first at line " + std::to_string(first->second) +
                   "; names ignore case)");
      continue;
    }
    seen[key] = k.Mark().line + 1;
    if (key == "content-length" || key == "transfer-encoding" || key == "connection") {
      r.report(k.Mark(), header_path, "is set by cplb itself and cannot be overridden");
      continue;
    }
    if (key == "authorization" && has_bearer_token) {
      r.report(k.Mark(), header_path, "conflicts with bearer_token_file");
      continue;
    }
    std::string value;
    if (!read_scalar(r, kv.second, k.Mark(), header_path, any_text(), value)) continue;
    if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      r.report(kv.second.Mark(), header_path, "must not contain line breaks");
      continue;
    }
    out[name] = value;
  }
}

void decode_tls(reader& r, const YAML::Node& node, const YAML::Mark& at, const std::string& path,
                tls_config& out) {
  map_view m(r, node, at, path,
             {"ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify"});
  if (!m.ok()) return;
  read_file_name(m, "ca_file", out.ca_file);
  read_file_name(m, "cert_file", out.cert_file);
  read_file_name(m, "key_file", out.key_file);
  // A client certificate needs its key and the other way round (when both decoded cleanly).
  if (r.where(m.path_of("cert_file")) && r.where(m.path_of("key_file"))) {
    if (!out.cert_file.empty() && out.key_file.empty())
      r.report(m.mark_of("cert_file"), m.path_of("cert_file"),
               "is set but key_file is not (a client certificate needs its private key)");
    if (out.cert_file.empty() && !out.key_file.empty())
      r.report(m.mark_of("key_file"), m.path_of("key_file"),
               "is set but cert_file is not (a private key needs its client certificate)");
  }
  if (m.read("server_name", any_text(), out.server_name) && !out.server_name.empty() &&
      (!is_printable_ascii(out.server_name) || out.server_name.size() > 253))
    r.report(m.mark_of("server_name"), m.path_of("server_name"),
             "'" + out.server_name + "' is not a valid host name");
  m.read("insecure_skip_verify", boolean(), out.insecure_skip_verify);
}

}  // namespace

void decode_health_check(reader& r, const YAML::Node& node, const YAML::Mark& at,
                         const std::string& path, health_check_config& out) {
  map_view m(r, node, at, path,
             {"protocol", "path", "port", "interval", "timeout", "fast_interval", "rise", "fall",
              "expect_status", "headers", "bearer_token_file", "tls"});
  if (!m.ok()) return;
  bool protocol_ok = m.read("protocol",
                            one_of<check_protocol>("protocol",
                                                   {
                                                       {"https", check_protocol::https},
                                                       {"http", check_protocol::http},
                                                       {"tcp", check_protocol::tcp},
                                                   }),
                            out.protocol) ||
                     !m.has("protocol");
  if (protocol_ok && out.protocol == check_protocol::tcp) {
    for (auto key : {"path", "expect_status", "headers", "bearer_token_file"})
      if (m.has(key))
        r.report(m.mark_of(key), m.path_of(key), "applies only to protocol http or https");
  }
  if (protocol_ok && out.protocol != check_protocol::https && m.has("tls"))
    r.report(m.mark_of("tls"), m.path_of("tls"), "applies only to protocol https");

  if (m.read("path", any_text(), out.path)) {
    if (out.path.empty() || out.path.front() != '/')
      r.report(m.mark_of("path"), m.path_of("path"), "'" + out.path + "' must start with '/'");
    else if (!is_printable_ascii(out.path))
      r.report(m.mark_of("path"), m.path_of("path"),
               "must not contain spaces or control characters (percent-encode them)");
  }
  m.read("port", whole_number(0, 65535), out.port);

  // The timeout may equal or exceed the interval (HAProxy's `inter 2s` with `timeout check 10s`):
  // the next probe starts only once the previous one has ended.
  m.read("interval", duration_at_least(duration(1)), out.interval);
  m.read("timeout", duration_at_least(duration(1)), out.timeout);
  if (m.read("fast_interval", duration_at_least(duration(1)), out.fast_interval) &&
      r.where(m.path_of("interval")) && out.fast_interval > out.interval)
    r.report(m.mark_of("fast_interval"), m.path_of("fast_interval"),
             format_duration(out.fast_interval) + " must not exceed interval " +
                 format_duration(out.interval));
  else if (!m.has("fast_interval"))
    out.fast_interval = std::min(out.fast_interval, out.interval);  // the default, at most interval
  m.read("rise", whole_number(1, 100), out.rise);
  m.read("fall", whole_number(1, 100), out.fall);

  read_list(m, "expect_status", whole_number(100, 599), out.expect_status);
  if (const YAML::Node* n = m.find("expect_status");
      n && (n->IsNull() || (n->IsSequence() && n->size() == 0)))
    r.report(m.mark_of("expect_status"), m.path_of("expect_status"),
             "at least one status is required");

  read_file_name(m, "bearer_token_file", out.bearer_token_file);
  if (const YAML::Node* n = m.find("headers"))
    decode_headers(r, *n, m.mark_of("headers"), m.path_of("headers"),
                   !out.bearer_token_file.empty(), out.headers);
  if (const YAML::Node* n = m.find("tls"))
    decode_tls(r, *n, m.mark_of("tls"), m.path_of("tls"), out.tls);
}

}  // namespace cplb::config::detail
