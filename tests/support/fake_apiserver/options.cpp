#include "options.hpp"

#include <charconv>
#include <stdexcept>
#include <string_view>

namespace cplb::fake_apiserver {

namespace {

using boost::asio::ip::tcp;

/// Parses `HOST:PORT` or `[V6]:PORT`; HOST is an IP literal or `localhost`.
tcp::endpoint parse_endpoint(std::string_view flag, std::string_view text) {
  const auto bad = [&] {
    return std::invalid_argument(std::string(flag) + ": expected HOST:PORT, got '" + std::string(text) + "'");
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) throw bad();
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw bad();
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc{} || end != port.data() + port.size() || number > 65535) throw bad();
  boost::system::error_code parse_error;
  const auto address =
      boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : std::string(host), parse_error);
  if (parse_error) throw bad();
  return {address, static_cast<unsigned short>(number)};
}

/// Parses `250ms`, `2s` or `1m`: a whole number and a unit.
std::chrono::milliseconds parse_duration(std::string_view flag, std::string_view text) {
  unsigned long long number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  constexpr unsigned long long limit = 24ULL * 3600 * 1000;  // a day, in milliseconds
  unsigned long long scale = 0;
  if (unit == "ms") scale = 1;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60 * 1000;
  if (ec != std::errc{} || end == text.data() || scale == 0 || number > limit / scale)
    throw std::invalid_argument(std::string(flag) + ": expected a duration such as 250ms or 2s, got '" +
                                std::string(text) + "'");
  return std::chrono::milliseconds(number * scale);
}

}  // namespace

const char* const usage =
    "usage: fake-apiserver --listen HOST:PORT --name NAME [--cert FILE --key FILE] [--client-ca FILE]\n"
    "                      [--control HOST:PORT] [--readiness ok|500|hang|close] [--require-token TOKEN]\n"
    "                      [--echo [--echo-greeting]] [--watch-interval DURATION]\n"
    "                      [--shutdown-delay DURATION]\n"
    "GET /watch streams an event every --watch-interval (default 200ms). SIGTERM: /readyz answers 500 for\n"
    "--shutdown-delay (default 0s), then open watches end cleanly and the process exits 0.\n";

options parse_options(int argc, const char* const* argv) {
  options opts;
  bool have_listen = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--echo") {
      opts.echo = true;
      continue;
    }
    if (flag == "--echo-greeting") {
      opts.echo_greeting = true;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument(std::string(flag) + ": unknown flag or missing value");
    const std::string_view value = argv[++i];
    if (flag == "--listen") {
      opts.listen = parse_endpoint(flag, value);
      have_listen = true;
    } else if (flag == "--name") {
      opts.name = value;
    } else if (flag == "--cert") {
      opts.cert_file = value;
    } else if (flag == "--key") {
      opts.key_file = value;
    } else if (flag == "--client-ca") {
      opts.client_ca_file = value;
    } else if (flag == "--control") {
      opts.control = parse_endpoint(flag, value);
    } else if (flag == "--readiness") {
      const auto mode = parse_readiness(value);
      if (!mode)
        throw std::invalid_argument("--readiness: expected ok|500|hang|close, got '" + std::string(value) +
                                    "'");
      opts.initial_readiness = *mode;
    } else if (flag == "--require-token") {
      if (value.empty()) throw std::invalid_argument("--require-token: empty token");
      opts.required_token = value;
    } else if (flag == "--watch-interval") {
      opts.watch_interval = parse_duration(flag, value);
      if (opts.watch_interval.count() == 0) throw std::invalid_argument("--watch-interval: must be > 0");
    } else if (flag == "--shutdown-delay") {
      opts.shutdown_delay = parse_duration(flag, value);
    } else {
      throw std::invalid_argument(std::string(flag) + ": unknown flag");
    }
  }
  if (!have_listen) throw std::invalid_argument("--listen is required");
  if (opts.name.empty()) throw std::invalid_argument("--name is required");
  if (opts.cert_file.empty() != opts.key_file.empty())
    throw std::invalid_argument("--cert and --key go together");
  if (!opts.client_ca_file.empty() && opts.cert_file.empty())
    throw std::invalid_argument("--client-ca needs --cert");
  if (opts.echo && !opts.cert_file.empty()) throw std::invalid_argument("--echo has no TLS");
  if (opts.echo_greeting && !opts.echo) throw std::invalid_argument("--echo-greeting needs --echo");
  return opts;
}

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint) {
  const auto port = std::to_string(endpoint.port());
  if (endpoint.address().is_v6()) return "[" + endpoint.address().to_string() + "]:" + port;
  return endpoint.address().to_string() + ":" + port;
}

}  // namespace cplb::fake_apiserver
