#include "predecessor_watch.hpp"

#include <boost/asio/post.hpp>

#include <sys/syscall.h>
#include <unistd.h>

namespace cplb::app {

predecessor_watch::predecessor_watch(boost::asio::io_context& io, pid_t pid, std::function<void()> on_exit)
    : pidfd_(io), on_exit_(std::move(on_exit)) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    boost::asio::post(io, on_exit_);  // gone already (ESRCH)
    return;
  }
  pidfd_.assign(fd);
  pidfd_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](const boost::system::error_code& ec) {
    if (!ec) on_exit_();
  });
}

}  // namespace cplb::app
