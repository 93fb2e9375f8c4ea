#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list_hook.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

#include "cplb/backend/backend.hpp"
#include "cplb/proxy/runtime.hpp"

namespace cplb::proxy {

class worker;

/// Hook into the worker's list of live sessions.
using session_hook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>>;

/// One client connection and its upstream leg. Lives on one worker thread from accept to close.
///
/// Lifetime: the session owns itself. Every handler captures a plain `this`, and `pending_`
/// counts the operations in flight; the session deletes itself once it is closing and the last
/// of them has completed (cancelled ones complete with operation_aborted). This is the
/// shared_from_this pattern without an atomic reference count per read.
///
/// Data moves readiness-first: wait until a socket is readable, read into the worker's scratch
/// buffer, write straight to the other leg. Only bytes the other leg could not take yet are
/// copied into a per-direction buffer, which is freed once flushed: an idle session holds none.
class session : public session_hook {
 public:
  /// Why a session ended (debug log and tests).
  enum class end_reason : std::uint8_t {
    done, client_error, server_error, idle_timeout, connect_failed, no_server, closed_by_proxy,
  };

  /// `frontend` belongs to `rt`, which the session keeps alive.
  session(worker& owner, boost::asio::ip::tcp::socket client, std::shared_ptr<const runtime> rt,
          const frontend_runtime& frontend, std::uint64_t client_key);
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Picks a server and connects, then pumps.
  void start();
  /// Ends the session now, resetting both legs (proxy shutdown, on_server_down close).
  void abort();
  /// Ends the session at `deadline` unless it ends sooner (drain).
  void close_at(std::chrono::steady_clock::time_point deadline);
  /// The server this session is connected (or connecting) to, or nullptr.
  const backend::server* server() const { return server_.get(); }

 private:
  /// One direction of the byte pump.
  struct pump {
    boost::asio::ip::tcp::socket* from = nullptr;
    boost::asio::ip::tcp::socket* to = nullptr;
    std::unique_ptr<char[]> backlog;   ///< bytes read but not yet written; null when empty
    std::uint32_t backlog_offset = 0;
    std::uint32_t backlog_size = 0;
    std::uint64_t unflushed_bytes = 0; ///< bytes moved since the last counter flush
    bool finished = false;             ///< EOF read and passed on as a half-close
  };

  ~session();

  void connect_next();
  void on_connected(const boost::system::error_code& ec);
  void connect_failed(backend::down_reason why);
  void start_pumping();

  void wait_readable(pump& p);
  void on_readable(pump& p, const boost::system::error_code& ec);
  void wait_writable(pump& p);
  void on_writable(pump& p, const boost::system::error_code& ec);
  /// Moves bytes from `p.from` to `p.to` until one would block; false when the session ended.
  bool transfer(pump& p);
  void flush_counters(pump& p);

  void arm_timer(std::chrono::steady_clock::time_point at);
  void on_timer(const boost::system::error_code& ec);

  /// Starts ending the session; the last completing operation frees it.
  void finish(end_reason why, bool reset = false);
  void release_if_idle();

  template <typename Handler>
  auto track(Handler handler);

  worker& owner_;
  boost::asio::ip::tcp::socket client_;
  boost::asio::ip::tcp::socket upstream_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<const runtime> runtime_;  ///< keeps `frontend_` alive across reloads
  const frontend_runtime& frontend_;
  backend::server_ptr server_;
  int server_index_ = -1;
  backend::server_mask tried_ = 0;
  unsigned attempts_left_;
  std::uint64_t client_key_;
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point close_deadline_ = std::chrono::steady_clock::time_point::max();
  pump upstream_pump_;    ///< client -> server
  pump downstream_pump_;  ///< server -> client
  std::uint16_t pending_ = 0;
  bool connecting_ = false;
  bool connect_timed_out_ = false;
  bool closing_ = false;
};

}  // namespace cplb::proxy
