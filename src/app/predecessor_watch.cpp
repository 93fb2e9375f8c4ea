#include "predecessor_watch.hpp"

#include <boost/asio/post.hpp>

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cplb/core/log.hpp"

namespace cplb::app {

predecessor_watch::predecessor_watch(boost::asio::io_context& io, pid_t pid, std::function<void()> on_exit)
    : pidfd_(io), on_exit_(std::move(on_exit)) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    if (errno == ESRCH) boost::asio::post(io, on_exit_);  // ended already
    else log::warn("cannot watch the previous process", {{"pid", pid}, {"error", std::strerror(errno)}});
    return;
  }
  boost::system::error_code ec;
  pidfd_.assign(fd, ec);
  if (ec) {
    ::close(fd);
    log::warn("cannot watch the previous process", {{"pid", pid}, {"error", ec.message()}});
    return;
  }
  pidfd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                    [this](const boost::system::error_code& error) {
                      if (!error) on_exit_();
                    });
}

}  // namespace cplb::app
