#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

// The cplb config being written, key by key as YAML text, each value with the directive it came
// from. The mappers fill it in; yaml_writer lays it out.
namespace cplb::app::migrate {

/// A value in YAML syntax (quoted where needed) and where it came from, written as its comment.
struct value {
  std::string text;
  std::string source;  ///< e.g. `timeout connect 5s (haproxy.cfg:29)`; empty: no comment
};

/// A key that is written only when set; cplb's default applies otherwise.
using field = std::optional<value>;

/// Comment lines, written at the end of the block they concern.
using remarks = std::vector<std::string>;

struct frontend_draft {
  value name;
  value listen;
  value backend;
  field connect_timeout;
  field idle_timeout;
  field retries;
  remarks notes;
};

struct server_draft {
  std::string name;
  std::string address;
  field weight;
  std::string source;  ///< the server line, as the comment of the list item
};

struct tls_draft {
  field ca_file;
  field cert_file;
  field key_file;
  field server_name;
  field insecure_skip_verify;
};

struct health_check_draft {
  field protocol;
  field path;
  field port;
  field interval;
  field timeout;
  field fast_interval;
  field rise;
  field fall;
  field expect_status;
  std::vector<std::pair<std::string, value>> headers;
  tls_draft tls;
};

struct backend_draft {
  std::string plain_name;  ///< the name as cplb reads it, for track_backends
  value name;
  field balance;
  field on_server_down;
  field slow_start;
  std::vector<server_draft> servers;
  health_check_draft health_check;
  remarks notes;
};

struct garp_draft {
  field count;
  field interval;
  field refresh;
};

struct vrrp_draft {
  value name;
  value interface;
  value virtual_router_id;
  field priority;
  field advert_interval;
  field version;
  field preempt;
  field unicast_peers;
  value virtual_ips;
  field track_backends;
  field track_penalty;
  garp_draft garp;
  remarks notes;
};

struct draft {
  std::vector<std::string> sources;  ///< the input paths, for the header
  remarks notes;                     ///< about the files as a whole (global, defaults)
  field workers;
  field max_connections;
  field shutdown_grace;
  std::vector<frontend_draft> frontends;
  std::vector<backend_draft> backends;
  remarks vrrp_notes;  ///< about keepalived as a whole (global_defs, scripts)
  std::vector<vrrp_draft> vrrp_instances;
};

}  // namespace cplb::app::migrate
