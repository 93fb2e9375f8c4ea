#pragma once
#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "readiness.hpp"

namespace cplb::fake_apiserver {

/// The command line of fake-apiserver.
struct options {
  boost::asio::ip::tcp::endpoint listen;  ///< --listen: the data plane
  std::string name;                       ///< --name: reported by /version and the echo greeting
  std::string cert_file;                  ///< --cert: TLS when set
  std::string key_file;                   ///< --key
  std::string client_ca_file;             ///< --client-ca: require a client certificate
  std::optional<boost::asio::ip::tcp::endpoint> control;  ///< --control: plain-HTTP control listener
  bool echo = false;                                      ///< --echo: TCP echo instead of HTTP
  bool echo_greeting = false;                             ///< --echo-greeting: write `NAME\n` first
  readiness initial_readiness = readiness::ok;            ///< --readiness
  std::string required_token;                             ///< --require-token: empty = none
  std::chrono::milliseconds watch_interval{200};          ///< --watch-interval: between watch events
  std::chrono::milliseconds shutdown_delay{0};            ///< --shutdown-delay: /readyz 500 before closing
};

/// The usage text printed on a bad command line.
extern const char* const usage;

/// Parses the arguments after argv[0]; throws std::invalid_argument saying what is wrong.
options parse_options(int argc, const char* const* argv);

/// `127.0.0.1:6443` or `[::1]:6443`.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace cplb::fake_apiserver
