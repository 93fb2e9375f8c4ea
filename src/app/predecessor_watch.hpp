#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <sys/types.h>

#include <functional>

namespace cplb::app {

/// Binary upgrade, the new process's side: calls `on_exit` once the process it took over from
/// has ended (its pidfd turns readable), or at once when it has already.
class predecessor_watch {
 public:
  predecessor_watch(boost::asio::io_context& io, pid_t pid, std::function<void()> on_exit);

 private:
  boost::asio::posix::stream_descriptor pidfd_;
  std::function<void()> on_exit_;
};

}  // namespace cplb::app
