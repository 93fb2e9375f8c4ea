// The kernel's verdict in an rtnetlink ack (the VRRP shell's captured replies and fuzz finds
// are in tests/unit/vrrp/link_state_test.cpp).
#include <catch2/catch.hpp>

#include <linux/netlink.h>

#include <cerrno>
#include <vector>

#include "cplb/core/netlink_ack.hpp"

namespace cplb {
namespace {

/// An NLMSG_ERROR message carrying `error` (0 or a negative errno), as the kernel acks.
std::vector<std::uint8_t> ack(int error) {
  std::vector<std::uint8_t> out(NLMSG_LENGTH(sizeof(nlmsgerr)));
  auto* h = reinterpret_cast<nlmsghdr*>(out.data());
  h->nlmsg_len = static_cast<std::uint32_t>(out.size());
  h->nlmsg_type = NLMSG_ERROR;
  static_cast<nlmsgerr*>(NLMSG_DATA(h))->error = error;
  return out;
}

}  // namespace

TEST_CASE("an ack is read as the kernel's verdict, anything else as a protocol error") {
  CHECK_FALSE(netlink_ack(ack(0)));
  CHECK(netlink_ack(ack(-EEXIST)) == std::errc::file_exists);
  CHECK(netlink_ack(ack(-ESRCH)) == std::errc::no_such_process);
  CHECK(netlink_ack(ack(5)) == std::errc::protocol_error);       // not a negative errno
  CHECK(netlink_ack(ack(-100000)) == std::errc::protocol_error); // beyond MAX_ERRNO
  auto truncated = ack(0);
  truncated.resize(NLMSG_HDRLEN + 2);
  reinterpret_cast<nlmsghdr*>(truncated.data())->nlmsg_len = static_cast<std::uint32_t>(truncated.size());
  CHECK(netlink_ack(truncated) == std::errc::protocol_error);
  CHECK(netlink_ack({}) == std::errc::protocol_error);
}

}  // namespace cplb
