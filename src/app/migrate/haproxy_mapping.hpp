#pragma once
#include <optional>
#include <string>

#include "cplb/app/migrate.hpp"
#include "draft.hpp"
#include "haproxy_syntax.hpp"

namespace cplb::app::migrate::haproxy {

/// Maps a parsed HAProxy config into `out`: the global settings cplb has, a cplb backend per TCP
/// backend (or listen) section with servers, a cplb frontend per bind address of each TCP
/// frontend (or listen) section, and a note for every line that none of these carries. Files
/// that server options name are resolved against `config_dir` and read with `read_file`. An
/// error when no frontend can be carried over: cplb would have nothing to do.
std::optional<error> map_haproxy(const source_file& file, const document& doc,
                                 const std::string& config_dir, const file_reader& read_file,
                                 draft& out);

}  // namespace cplb::app::migrate::haproxy
