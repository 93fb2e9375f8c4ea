#pragma once
#include <set>
#include <string>

#include "cplb/app/migrate.hpp"
#include "draft.hpp"
#include "haproxy_proxy.hpp"
#include "haproxy_servers.hpp"

namespace cplb::app::migrate::haproxy {

/// What the mapping of one HAProxy file keeps track of.
struct context {
  context(const document& d, const file_reader& read, std::string dir)
      : doc(d), read_file(read), config_dir(std::move(dir)) {}

  const document& doc;
  const file_reader& read_file;
  std::string config_dir;  ///< relative file names without a ca-base or crt-base start here
  std::string ca_base;     ///< `ca-base` of the global section
  std::string crt_base;    ///< `crt-base` of the global section
  const directive* server_verify = nullptr;  ///< `ssl-server-verify` of the global section
  ledger used;

  /// Adds `note` to `notes` once: options of a default-server line apply to many servers.
  void remark(remarks& notes, const std::string& note);
  /// Marks a server option as carried over (or reported).
  void consume(const server_option& o) { consumed_.insert(key(o)); }
  bool consumed(const server_option& o) const { return consumed_.count(key(o)) != 0; }
  /// `name` as HAProxy resolves it against `base`, made absolute against config_dir.
  std::string resolve(const std::string& name, const std::string& base) const;

 private:
  static std::string key(const server_option& o) { return o.at.to_string() + " " + o.keyword; }

  std::set<std::string> said_;
  std::set<std::string> consumed_;
};

}  // namespace cplb::app::migrate::haproxy
