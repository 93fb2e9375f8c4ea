#pragma once
#include <array>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "server_state.hpp"

namespace cplb::fake_apiserver {

/// One TCP echo connection: optionally a greeting line, then every byte back; a client's
/// half-close is answered, after the echo is written, by ours.
class echo_session : public std::enable_shared_from_this<echo_session> {
 public:
  /// Takes over an accepted socket; an empty `greeting` writes none.
  echo_session(boost::asio::ip::tcp::socket socket, std::string greeting, connection_guard guard);

  /// Writes the greeting, if any, then echoes.
  void start();

 private:
  void read();
  void write(std::size_t size);

  boost::asio::ip::tcp::socket socket_;   ///< the connection
  std::string greeting_;                  ///< written first
  connection_guard guard_;                ///< counts the connection
  std::array<char, 16 * 1024> buffer_{};  ///< one read, echoed before the next read
};

}  // namespace cplb::fake_apiserver
