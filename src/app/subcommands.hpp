#pragma once
#include "cplb/app/options.hpp"

// The subcommands beside running the daemon; each returns the process's exit code.
namespace cplb::app {

/// `cplb migrate`: prints the cplb config for an HAProxy (and keepalived) config; 1 with
/// `FILE:LINE: what` on stderr when an input cannot be read or parsed.
int run_migrate(const options& opts);

/// `cplb status`: prints the running instance's /status as a table; 2 when its admin endpoint
/// cannot be reached (or does not answer with a /status document), 1 for a bad config file.
int run_status(const options& opts);

}  // namespace cplb::app
