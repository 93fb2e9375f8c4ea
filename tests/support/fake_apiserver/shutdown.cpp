#include "shutdown.hpp"

namespace cplb::fake_apiserver {

namespace {

/// How often the connection count is looked at while draining.
constexpr std::chrono::milliseconds drain_poll{10};

}  // namespace

graceful_shutdown::graceful_shutdown(boost::asio::io_context& io, std::shared_ptr<server_state> state,
                                     std::chrono::milliseconds delay, std::function<void()> close_listener,
                                     std::function<void()> stop)
    : state_(std::move(state)),
      delay_(delay),
      close_listener_(std::move(close_listener)),
      stop_(std::move(stop)),
      timer_(io) {}

void graceful_shutdown::begin() {
  if (begun_) return stop_();
  begun_ = true;
  state_->mode = readiness::error;
  timer_.expires_after(delay_);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->close();
  });
}

void graceful_shutdown::close() {
  close_listener_();
  state_->closing = true;
  state_->watches.end_all();
  drain_deadline_ = std::chrono::steady_clock::now() + drain_limit;
  wait_for_connections();
}

void graceful_shutdown::wait_for_connections() {
  if (state_->counters.active == 0 || std::chrono::steady_clock::now() >= drain_deadline_) return stop_();
  timer_.expires_after(drain_poll);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->wait_for_connections();
  });
}

}  // namespace cplb::fake_apiserver
