// fake-apiserver: a kube-apiserver stand-in for cplb's integration tests. See options.cpp for the CLI.
#include <csignal>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

#include "api_handler.hpp"
#include "control_handler.hpp"
#include "echo_session.hpp"
#include "http_session.hpp"
#include "listener.hpp"
#include "options.hpp"
#include "server_state.hpp"
#include "shutdown.hpp"

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using namespace cplb::fake_apiserver;

/// Lifts the soft descriptor limit to the hard one, so thousands of connections fit.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

/// The server TLS context for --cert/--key (and --client-ca), or none for plain HTTP.
std::unique_ptr<ssl::context> make_tls_context(const options& opts) {
  if (opts.cert_file.empty()) return nullptr;
  auto tls = std::make_unique<ssl::context>(ssl::context::tls_server);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  const auto check = [&ec](std::string_view what, const std::string& file) {
    if (!ec) return;
    const std::string reason = std::ifstream(file) ? ec.message() : "cannot open the file";
    throw std::runtime_error(std::string(what) + " " + file + ": " + reason);
  };
  tls->use_certificate_chain_file(opts.cert_file, ec);
  check("cannot load certificate", opts.cert_file);
  tls->use_private_key_file(opts.key_file, ssl::context::pem, ec);
  check("cannot load key", opts.key_file);
  if (!opts.client_ca_file.empty()) {
    tls->load_verify_file(opts.client_ca_file, ec);
    check("cannot load client CA", opts.client_ca_file);
    tls->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    static constexpr unsigned char session_context[] = "fake-apiserver";
    SSL_CTX_set_session_id_context(tls->native_handle(), session_context, sizeof session_context - 1);
  }
  return tls;
}

/// What the data-plane listener does with each accepted socket.
listener::accept_handler data_plane(const options& opts, const std::shared_ptr<server_state>& state,
                                    ssl::context* tls) {
  if (opts.echo) {
    std::string greeting = opts.echo_greeting ? opts.name + "\n" : "";
    return [state, greeting](asio::ip::tcp::socket socket) {
      std::make_shared<echo_session>(std::move(socket), greeting, connection_guard(state))->start();
    };
  }
  request_handler handler = [state](const request& req) { return handle_api_request(state, req); };
  if (tls) {
    return [state, handler, tls](asio::ip::tcp::socket socket) {
      std::make_shared<http_session<tls_stream>>(tls_stream(std::move(socket), *tls), handler,
                                                 connection_guard(state))
          ->start();
    };
  }
  return [state, handler](asio::ip::tcp::socket socket) {
    std::make_shared<http_session<plain_stream>>(std::move(socket), handler, connection_guard(state))
        ->start();
  };
}

/// What the control listener does with each accepted socket.
listener::accept_handler control_plane(const std::shared_ptr<server_state>& state) {
  request_handler handler = [state](const request& req) { return handle_control_request(*state, req); };
  return [handler](asio::ip::tcp::socket socket) {
    std::make_shared<http_session<plain_stream>>(std::move(socket), handler, connection_guard())->start();
  };
}

/// Toggles readiness between ok and 500 on every SIGUSR1.
void watch_toggle(asio::signal_set& signals, const std::shared_ptr<server_state>& state) {
  signals.async_wait([&signals, state](boost::system::error_code ec, int) {
    if (ec) return;
    state->mode = state->mode == readiness::ok ? readiness::error : readiness::ok;
    watch_toggle(signals, state);
  });
}

/// Begins the graceful shutdown on SIGTERM or SIGINT; a second signal stops at once.
void watch_stop(asio::signal_set& signals, const std::shared_ptr<graceful_shutdown>& shutdown) {
  signals.async_wait([&signals, shutdown](boost::system::error_code ec, int) {
    if (ec) return;
    shutdown->begin();
    watch_stop(signals, shutdown);
  });
}

/// Serves until SIGTERM or SIGINT and the graceful shutdown; returns the exit code.
int run(const options& opts) {
  raise_descriptor_limit();
  asio::io_context io(1);
  auto state = std::make_shared<server_state>();
  state->name = opts.name;
  state->required_token = opts.required_token;
  state->mode = opts.initial_readiness;
  state->watch_interval = opts.watch_interval;

  const auto tls = make_tls_context(opts);
  auto data = std::make_shared<listener>(io, opts.listen, data_plane(opts, state, tls.get()));
  std::shared_ptr<listener> control;
  if (opts.control) control = std::make_shared<listener>(io, *opts.control, control_plane(state));

  asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  watch_stop(stop_signals, std::make_shared<graceful_shutdown>(
                               io, state, opts.shutdown_delay, [data] { data->close(); },
                               [&io, data, control] {
                                 data->close();
                                 if (control) control->close();
                                 io.stop();  // connections still open, hanging ones included, go with it
                               }));
  asio::signal_set toggle_signal(io, SIGUSR1);
  watch_toggle(toggle_signal, state);

  data->start();
  if (control) {
    control->start();
    std::cout << "control " << format_endpoint(control->local_endpoint()) << '\n';
  }
  std::cout << "listening " << format_endpoint(data->local_endpoint()) << std::endl;
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options opts;
  try {
    opts = parse_options(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::cerr << "fake-apiserver: " << e.what() << '\n' << usage;
    return 1;
  }
  try {
    return run(opts);
  } catch (const std::exception& e) {
    std::cerr << "fake-apiserver: " << e.what() << '\n';
    return 2;
  }
}
