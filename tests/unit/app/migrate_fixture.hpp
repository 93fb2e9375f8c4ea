#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cplb/app/migrate.hpp"
#include "cplb/config/config.hpp"

// Running `cplb migrate` on the configs of testdata/ and reading its output back.
namespace cplb::app::migrate::test {

/// The path of testdata/`name`.
std::string testdata(const std::string& name);

/// The migration of testdata/`haproxy` (and testdata/`keepalived`), reading the files they name
/// from disk. Fails the test when it is an error.
std::string migrated(const std::string& haproxy, const std::string& keepalived = "");

/// The migration of config texts, named testdata/haproxy.cfg and testdata/keepalived.conf (when
/// `keepalived` is not empty); `read_file` reads the files they name (default: from disk).
std::variant<std::string, error> migrate_text(const std::string& haproxy,
                                              const std::string& keepalived = "",
                                              file_reader read_file = {});

/// The migration's error for these inputs. Fails the test when it succeeds.
error migration_error(const std::string& haproxy, const std::string& keepalived = "");

/// The YAML as cplb's own loader reads it, with the validation of `cplb --check`. Fails the test
/// with every problem when it does not pass.
config::config load(const std::string& yaml);

/// The `# not carried over: ...` lines of the YAML, without their indentation.
std::vector<std::string> not_carried_over_lines(const std::string& yaml);

/// The `not carried over` line for `what` at `file:line`, if there is one.
std::optional<std::string> note_for(const std::string& yaml, const std::string& what,
                                    const std::string& where);

/// Whether the output cites `where` (`haproxy.cfg:12`) anywhere: in a value's comment or a note.
bool cites(const std::string& yaml, const std::string& where);

}  // namespace cplb::app::migrate::test
