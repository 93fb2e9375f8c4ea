#include "cplb/health/probe_spec.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cplb::health {
namespace {

/// The first queued OpenSSL error as text (the queue is cleared).
std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : "error " + std::to_string(code);
}

/// Throws unless the file at `path` (the value of `key`) can be opened for reading.
void require_readable(const char* key, const std::string& path) {
  if (!std::ifstream(path))
    throw std::runtime_error(std::string(key) + " " + path + ": cannot be read");
}

/// Kubernetes tokens are a few KiB at most; a larger file is a mistake.
constexpr std::size_t max_token_size = 16 * 1024;

/// The bearer token in `path`, without surrounding whitespace.
std::string read_token(const std::string& path) {
  require_readable("bearer_token_file", path);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  const char* space = " \t\r\n\v\f";
  const auto first = all.find_first_not_of(space);
  if (first == std::string::npos)
    throw std::runtime_error("bearer_token_file " + path + ": is empty");
  const auto last = all.find_last_not_of(space);
  std::string token = all.substr(first, last - first + 1);
  // It goes into a header line: a line break would let the file inject headers.
  if (token.find_first_of("\r\n") != std::string::npos)
    throw std::runtime_error("bearer_token_file " + path + ": contains a line break");
  if (token.size() > max_token_size)
    throw std::runtime_error("bearer_token_file " + path + ": is over 16 KiB");
  return token;
}

/// The client TLS context of one backend: trust store, client certificate, verify mode.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const config::tls_config& tls) {
  auto context = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (tls.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
      throw std::runtime_error("tls: cannot load the system trust store: " + openssl_error());
  } else {
    require_readable("tls.ca_file", tls.ca_file);
    if (SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr) != 1)
      throw std::runtime_error("tls.ca_file " + tls.ca_file + ": " + openssl_error());
  }
  if (tls.cert_file.empty() != tls.key_file.empty())
    throw std::runtime_error("tls: cert_file and key_file go together");
  if (!tls.cert_file.empty()) {
    require_readable("tls.cert_file", tls.cert_file);
    require_readable("tls.key_file", tls.key_file);
    if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1)
      throw std::runtime_error("tls.cert_file " + tls.cert_file + ": " + openssl_error());
    // Also checks that the key is the certificate's.
    if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error("tls.key_file " + tls.key_file + ": " + openssl_error());
  }
  SSL_CTX_set_verify(ctx, tls.insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  return context;
}

}  // namespace

std::shared_ptr<const probe_spec> make_probe_spec(const config::health_check_config& cfg) {
  auto spec = std::make_shared<probe_spec>();
  spec->protocol = cfg.protocol;
  spec->path = cfg.path;
  spec->port = cfg.port;
  spec->interval = cfg.interval;
  spec->fast_interval = cfg.fast_interval;
  spec->timeout = cfg.timeout;
  spec->expect_status = cfg.expect_status;
  spec->headers.assign(cfg.headers.begin(), cfg.headers.end());
  if (!cfg.bearer_token_file.empty())
    spec->headers.emplace_back("Authorization", "Bearer " + read_token(cfg.bearer_token_file));
  spec->server_name = cfg.tls.server_name;
  spec->verify = !cfg.tls.insecure_skip_verify;
  if (cfg.protocol == config::check_protocol::https) spec->tls = make_tls_context(cfg.tls);
  return spec;
}

}  // namespace cplb::health
