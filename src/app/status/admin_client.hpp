#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "cplb/core/socket_address.hpp"

namespace cplb::app::status {

/// The body of `GET /status` from the admin server at `admin`, or nullopt with `why` set (the
/// step that failed and the system's reason, or the HTTP status). Gives up after `timeout`.
std::optional<std::string> fetch_status(const socket_address& admin,
                                        std::chrono::milliseconds timeout, std::string& why);

/// The address `cplb status` connects to for an admin `listen` address: a wildcard is reached
/// over loopback.
socket_address reachable(const socket_address& listen);

/// `admin.listen` of the config file `path` (cplb's default when it has none), or nullopt with
/// `why` set. Only that key is read: the rest of the file, and the files it names, may be
/// unreadable to whoever asks for the status.
std::optional<socket_address> admin_address_of(const std::string& path, std::string& why);

}  // namespace cplb::app::status
