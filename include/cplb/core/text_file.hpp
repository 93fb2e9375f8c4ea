#pragma once
#include <optional>
#include <string>

namespace cplb {

/// The contents of the regular file `path` (at most 4 MiB), or nullopt with `why` set
/// (`cannot read: No such file or directory`).
std::optional<std::string> read_text_file(const std::string& path, std::string& why);

}  // namespace cplb
