#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <sys/types.h>

#include <functional>

namespace cplb::app {

/// Binary upgrade, the new process's side: calls `on_exit` (on the io_context) once the process
/// it took over from has ended, which its pidfd turns readable to say; at once when it has ended
/// already. When the process cannot be watched, logs why and never calls.
class predecessor_watch {
 public:
  predecessor_watch(boost::asio::io_context& io, pid_t pid, std::function<void()> on_exit);
  predecessor_watch(const predecessor_watch&) = delete;
  predecessor_watch& operator=(const predecessor_watch&) = delete;

 private:
  boost::asio::posix::stream_descriptor pidfd_;
  std::function<void()> on_exit_;
};

}  // namespace cplb::app
