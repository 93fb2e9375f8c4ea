#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include "http_reply.hpp"
#include "streams.hpp"
#include "watch_feed.hpp"
#include "watch_registry.hpp"

namespace cplb::fake_apiserver {

/// A watch answered on a connection, as a kube-apiserver does: the 200 header with
/// `Transfer-Encoding: chunked`, one event at once and one every interval, for as long as the client
/// stays; end() writes the last chunk after the event in progress and closes the connection.
template <class Stream>
class watch_stream : public watch_control, public std::enable_shared_from_this<watch_stream<Stream>> {
 public:
  /// Writes on `stream`, which `owner` (the session that read the request) keeps alive.
  watch_stream(Stream& stream, std::shared_ptr<void> owner, std::shared_ptr<watch_feed> feed)
      : stream_(stream), owner_(std::move(owner)), feed_(std::move(feed)), timer_(stream.get_executor()) {}

  /// Registers the watch for a graceful shutdown, writes `header`, then the events.
  void start(response header) {
    feed_->state().watches.add(this->weak_from_this());
    header_ = std::move(header);
    serializer_.emplace(header_);
    writing_ = true;
    boost::beast::http::async_write_header(
        stream_, *serializer_, [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
          self->writing_ = false;
          if (ec) return;  // the client went: the watch ends with it
          if (self->ending_) return self->write_last();
          self->write_event();
        });
  }

  void end() override {
    if (ending_) return;
    ending_ = true;
    if (!writing_) timer_.cancel();  // a write in progress sees ending_ when it completes
  }

 private:
  void write_event() {
    chunk_ = feed_->next_chunk();
    writing_ = true;
    boost::asio::async_write(stream_, boost::asio::buffer(chunk_),
                             [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                               self->writing_ = false;
                               if (ec) return;
                               if (self->ending_) return self->write_last();
                               self->wait();
                             });
  }

  void wait() {
    timer_.expires_after(feed_->interval());
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (self->ending_) return self->write_last();
      if (!ec) self->write_event();
    });
  }

  /// The last chunk, then our side's goodbye (FIN, or TLS close_notify), then the close.
  void write_last() {
    writing_ = true;
    const auto last = boost::asio::buffer(watch_feed::last_chunk.data(), watch_feed::last_chunk.size());
    boost::asio::async_write(stream_, last,
                             [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                               if (ec) return drop(self->stream_);
                               async_finish(self->stream_,
                                            [self](boost::system::error_code) { drop(self->stream_); });
                             });
  }

  /// Writes the header of a watch response.
  using header_serializer = boost::beast::http::response_serializer<boost::beast::http::string_body>;

  Stream& stream_;                               ///< the connection, owned by owner_
  std::shared_ptr<void> owner_;                  ///< keeps the stream (and its connection count) alive
  std::shared_ptr<watch_feed> feed_;             ///< the events; counts the watch
  boost::asio::steady_timer timer_;              ///< until the next event
  response header_;                              ///< the 200 header
  std::optional<header_serializer> serializer_;  ///< writes header_
  std::string chunk_;                            ///< the event being written
  bool writing_ = false;                         ///< a write is in progress
  bool ending_ = false;                          ///< end() was called
};

}  // namespace cplb::fake_apiserver
