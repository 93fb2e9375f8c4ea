#include "haproxy_mapping.hpp"

#include <algorithm>
#include <map>

#include "haproxy_backend.hpp"
#include "haproxy_frontend.hpp"
#include "haproxy_reasons.hpp"
#include "haproxy_values.hpp"
#include "numbers.hpp"

namespace cplb::app::migrate::haproxy {
namespace {

/// Whether a line is one the mapping reads, so that it is noted only if nothing used it.
bool is_mapped_keyword(const directive& d) {
  static const std::set<std::string> keywords{"balance",         "hash-type",  "retries",
                                              "default-server",  "server",     "bind",
                                              "default_backend", "http-check", "tcp-check"};
  static const std::set<std::string> options{"redispatch", "httpchk", "ssl-hello-chk", "tcp-check"};
  static const std::set<std::string> timeouts{"connect", "client", "server", "tunnel", "check"};
  const std::string& k = d.keyword();
  return keywords.count(k) || (k == "mode" && d.sub() == "tcp") ||
         (k == "option" && options.count(d.sub())) || (k == "timeout" && timeouts.count(d.sub()));
}

std::string why_unused(const directive& d) {
  return is_mapped_keyword(d) ? "no section that cplb carries over uses it" : why_not(d);
}

class mapper {
 public:
  mapper(const source_file& file, const document& doc, const std::string& config_dir,
         const file_reader& read_file, draft& out)
      : file_(file), ctx_(doc, read_file, config_dir), out_(out) {}

  std::optional<error> run() {
    for (const section& s : ctx_.doc.sections)
      if (s.kind == "global") map_global(s);
    for (const section& s : ctx_.doc.sections)
      if ((s.kind == "backend" || s.kind == "listen") && tcp(s)) add_backend(s);
    for (const section& s : ctx_.doc.sections)
      if ((s.kind == "frontend" || s.kind == "listen") && tcp(s)) add_frontends(s);
    for (const section& s : ctx_.doc.sections) {
      if (s.kind == "global" || s.kind == "defaults") {
        for (const directive& d : s.lines) report_if_unused(d, out_.notes);
      } else if (!s.is_proxy()) {
        out_.notes.push_back(not_carried_over(s.kind + (s.name.empty() ? "" : " " + s.name),
                                              s.header.at, why_not_section(s.kind)));
      } else if (remarks* notes = block_of(s)) {
        for (const directive& d : s.lines) report_if_unused(d, *notes);
      }
      auto& loose = loose_notes_[&s];
      out_.notes.insert(out_.notes.end(), loose.begin(), loose.end());
    }
    if (out_.frontends.empty())
      return error{file_.path, 0, "no TCP frontend or listen section with a server cplb can take"};
    return std::nullopt;
  }

 private:
  void map_global(const section& s) {
    for (const directive& d : s.lines) {
      const std::string& k = d.keyword();
      if (k == "maxconn")
        set_number(d, 1, 10'000'000, out_.max_connections);
      else if (k == "nbthread")
        set_number(d, 1, 1024, out_.workers);
      else if (k == "hard-stop-after")
        set_time(d, out_.shutdown_grace);
      else if (k == "ca-base")
        use(d, ctx_.ca_base);
      else if (k == "crt-base")
        use(d, ctx_.crt_base);
      else if (k == "ssl-server-verify") {
        ctx_.used.use(d);
        ctx_.server_verify = &d;
      }
    }
  }

  void use(const directive& d, std::string& into) {
    ctx_.used.use(d);
    into = d.sub();
  }

  void set_number(const directive& d, unsigned long min, unsigned long max, field& into) {
    const auto n = whole_number(d.sub(), min, max);
    if (!n) return;
    ctx_.used.use(d);
    into = value{std::to_string(*n), from(d.text(), d.at)};
  }

  void set_time(const directive& d, field& into) {
    const auto t = parse_time(d.sub());
    if (!t) return;
    ctx_.used.use(d);
    into = value{format_duration(*t), from(d.text(), d.at)};
  }

  /// Whether a proxy is in TCP mode; a note when it is not.
  bool tcp(const section& s) {
    proxy_view proxy(ctx_.doc, s, ctx_.used);
    const directive* mode = proxy.last("mode");
    if (!mode || mode->sub() == "tcp") return true;
    ctx_.remark(loose_notes_[&s],
                not_carried_over(s.kind + " " + s.name, s.header.at,
                                 from(mode->text(), mode->at) + ": cplb proxies TCP only"));
    return false;
  }

  void add_backend(const section& s) {
    const bool listen_without_servers =
        s.kind == "listen" && std::none_of(s.lines.begin(), s.lines.end(), [](const directive& d) {
          return d.keyword() == "server";
        });
    if (listen_without_servers) return;  // a frontend only
    auto b = map_backend(ctx_, s, backend_names_, loose_notes_[&s]);
    if (!b) return;
    backend_index_[&s] = out_.backends.size();
    backend_by_name_[s.name] = &s;
    out_.backends.push_back(std::move(*b));
  }

  /// The section whose servers take a frontend's sessions, or nullptr with a note.
  const section* backend_for(const section& s) {
    if (backend_index_.count(&s)) return &s;  // a listen section with its own servers
    proxy_view proxy(ctx_.doc, s, ctx_.used);
    const directive* d = proxy.last("default_backend");
    const auto it = d ? backend_by_name_.find(d->sub()) : backend_by_name_.end();
    if (it != backend_by_name_.end()) return it->second;
    loose_notes_[&s].push_back(not_carried_over(
        s.kind + " " + s.name, s.header.at,
        d ? "its backend " + d->sub() + " is not carried over" : "it has no default_backend"));
    return nullptr;
  }

  void add_frontends(const section& s) {
    const section* backend = backend_for(s);
    if (!backend) return;
    const backend_draft& b = out_.backends[backend_index_.at(backend)];
    value name = b.name;
    if (backend != &s) {
      proxy_view proxy(ctx_.doc, s, ctx_.used);
      const directive* d = proxy.last("default_backend");
      name.source = from(d->text(), d->at);
    }
    remarks notes;
    auto frontends = map_frontend(ctx_, s, *backend, name, frontends_, notes);
    if (frontends.empty()) {
      notes.push_back(not_carried_over(s.kind + " " + s.name, s.header.at,
                                       "none of its bind addresses can be carried over"));
      auto& loose = loose_notes_[&s];
      loose.insert(loose.end(), notes.begin(), notes.end());
      return;
    }
    frontend_index_[&s] = out_.frontends.size();
    frontends.front().notes = std::move(notes);
    for (auto& f : frontends) out_.frontends.push_back(std::move(f));
  }

  /// The remarks of the block a carried-over section became (its backend, else its first
  /// frontend), or nullptr.
  remarks* block_of(const section& s) {
    if (auto it = backend_index_.find(&s); it != backend_index_.end())
      return &out_.backends[it->second].notes;
    if (auto it = frontend_index_.find(&s); it != frontend_index_.end())
      return &out_.frontends[it->second].notes;
    return nullptr;
  }

  void report_if_unused(const directive& d, remarks& notes) {
    if (!ctx_.used.used(d)) ctx_.remark(notes, not_carried_over(d.text(), d.at, why_unused(d)));
  }

  const source_file& file_;
  context ctx_;
  draft& out_;
  std::set<std::string> backend_names_;
  frontend_registry frontends_;
  std::map<const section*, std::size_t> backend_index_;
  std::map<const section*, std::size_t> frontend_index_;
  std::map<std::string, const section*> backend_by_name_;
  /// Notes about a section that has no block of its own in the output, written at the top.
  std::map<const section*, remarks> loose_notes_;
};

}  // namespace

std::optional<error> map_haproxy(const source_file& file, const document& doc,
                                 const std::string& config_dir, const file_reader& read_file,
                                 draft& out) {
  return mapper(file, doc, config_dir, read_file, out).run();
}

}  // namespace cplb::app::migrate::haproxy
