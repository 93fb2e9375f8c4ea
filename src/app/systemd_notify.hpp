#pragma once

namespace cplb::app::systemd {

// Messages to the service manager of a Type=notify unit (sd_notify(3)). Without NOTIFY_SOCKET
// in the environment (not started by systemd) each one does nothing.

/// cplb listens and serves: READY=1, with MAINPID=getpid() (so the new process of a binary
/// upgrade can take over as the unit's main process).
void ready();
/// A SIGHUP reload begins; ready() ends it.
void reloading();
/// A graceful stop begins.
void stopping();

}  // namespace cplb::app::systemd
