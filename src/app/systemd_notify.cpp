#include "systemd_notify.hpp"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <string>

#include "cplb/core/log.hpp"

namespace cplb::app::systemd {

namespace {

void send(const std::string& state) {
  // A failure is not fatal, but systemd would time the start out: say why.
  if (const int r = sd_notify(0, state.c_str()); r < 0)
    log::warn("cannot notify systemd", {{"state", state}, {"error", std::strerror(-r)}});
}

}  // namespace

void ready() { send("READY=1\nMAINPID=" + std::to_string(::getpid())); }

void reloading() {
  // sd_notify(3) asks for the CLOCK_MONOTONIC time with RELOADING=1 (Type=notify-reload needs it).
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void stopping() { send("STOPPING=1"); }

}  // namespace cplb::app::systemd
