// The rtnetlink parsers of the VRRP shell: the link state in a batch of RTMGRP_LINK messages and
// the verdict in the reply to an address request. Each input is one recv()'s worth of bytes.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "cplb/core/netlink_ack.hpp"
#include "netlink.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // recv() fills a buffer aligned for nlmsghdr; so does std::vector's allocation.
  const std::vector<std::uint8_t> copy(data, data + size);
  const std::span<const std::uint8_t> bytes(copy);
  // The seeds name lo (1) and a veth pair (2, 3).
  for (const unsigned ifindex : {1U, 2U, 3U}) cplb::vrrp::detail::link_state_in(bytes, ifindex);
  const auto ack = cplb::netlink_ack(bytes);
  if (ack.value() < 0) std::abort();  // the kernel sends negative errnos; the verdict is an errno
  return 0;
}
