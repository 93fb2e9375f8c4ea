#pragma once
#include <boost/asio/ip/tcp.hpp>

#include <cstring>

#include "cplb/core/socket_address.hpp"

namespace cplb {

/// The Asio form of a socket_address, for the modules that use Asio (admin, health).
inline boost::asio::ip::tcp::endpoint to_endpoint(const socket_address& address) {
  boost::asio::ip::tcp::endpoint endpoint;
  std::memcpy(endpoint.data(), address.data(), address.size());
  endpoint.resize(address.size());
  return endpoint;
}

}  // namespace cplb
