#include <catch2/catch.hpp>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cstring>
#include <vector>

#include "cplb/core/netlink_ack.hpp"
#include "netlink.hpp"
#include "test_util.hpp"

using cplb::netlink_ack;
using cplb::vrrp::detail::link_state_in;
using cplb::vrrp::test::from_hex;

namespace {

/// A batch of netlink messages as the kernel lays it out: each aligned to NLMSG_ALIGNTO.
class batch {
 public:
  batch& link(std::uint16_t type, int ifindex, unsigned flags) {
    const auto start = bytes_.size();
    bytes_.resize(start + NLMSG_SPACE(sizeof(ifinfomsg)));
    nlmsghdr h{};
    h.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    h.nlmsg_type = type;
    ifinfomsg info{};
    info.ifi_index = ifindex;
    info.ifi_flags = flags;
    std::memcpy(bytes_.data() + start, &h, sizeof h);
    std::memcpy(bytes_.data() + start + NLMSG_HDRLEN, &info, sizeof info);
    return *this;
  }
  /// A link message too short to hold its ifinfomsg.
  batch& truncated() {
    const auto start = bytes_.size();
    bytes_.resize(start + NLMSG_SPACE(4));
    nlmsghdr h{};
    h.nlmsg_len = NLMSG_LENGTH(4);
    h.nlmsg_type = RTM_NEWLINK;
    std::memcpy(bytes_.data() + start, &h, sizeof h);
    return *this;
  }
  std::span<const std::uint8_t> span() const { return {bytes_.data(), bytes_.size()}; }

 private:
  std::vector<std::uint8_t> bytes_;  // std::allocator's alignment is enough for nlmsghdr
};

constexpr unsigned up = IFF_UP | IFF_RUNNING;

}  // namespace

TEST_CASE("link_state_in reads the state of one interface from a netlink batch") {
  SECTION("up with a carrier") { CHECK(link_state_in(batch().link(RTM_NEWLINK, 3, up).span(), 3) == true); }
  SECTION("administratively up but no carrier is down") {
    CHECK(link_state_in(batch().link(RTM_NEWLINK, 3, IFF_UP).span(), 3) == false);
  }
  SECTION("deleted is down") { CHECK(link_state_in(batch().link(RTM_DELLINK, 3, up).span(), 3) == false); }
  SECTION("other interfaces and other messages say nothing") {
    CHECK_FALSE(link_state_in(batch().link(RTM_NEWLINK, 4, 0).link(RTM_NEWADDR, 3, 0).span(), 3).has_value());
    CHECK_FALSE(link_state_in(batch().span(), 3).has_value());
  }
  SECTION("the last message about the interface wins") {
    CHECK(link_state_in(batch().link(RTM_NEWLINK, 3, 0).link(RTM_NEWLINK, 4, 0).link(RTM_NEWLINK, 3, up).span(), 3) == true);
    CHECK(link_state_in(batch().link(RTM_NEWLINK, 3, up).link(RTM_NEWLINK, 3, IFF_UP).span(), 3) == false);
  }
  SECTION("a message too short for its header is skipped") {
    CHECK_FALSE(link_state_in(batch().truncated().span(), 3).has_value());
    CHECK(link_state_in(batch().truncated().link(RTM_NEWLINK, 3, up).span(), 3) == true);
  }
}

TEST_CASE("netlink_ack reads the kernel's verdict from the reply to an NLM_F_ACK request") {
  // Captured (fuzz/corpus/netlink): RTM_NEWADDR 192.0.2.100/24 on lo, then the same again.
  const auto ok = from_hex("24000000 02000001 01000000 82470000 00000000 28000000 14000506 01000000 00000000");
  const auto exists = from_hex(
      "3c000000 02000000 01000000 82470000 efffffff 28000000 14000506 01000000 00000000"
      "02180000 01000000 08000200 c0000264 08000100 c0000264");
  CHECK(netlink_ack(ok) == std::error_code{});
  CHECK(netlink_ack(exists) == std::errc::file_exists);
  CHECK(netlink_ack(batch().link(RTM_NEWLINK, 3, up).span()) == std::errc::protocol_error);
}

// Found by fuzz/netlink.cpp: an NLMSG_ERROR the kernel would not send is no verdict.
TEST_CASE("netlink_ack takes a malformed NLMSG_ERROR for a protocol error") {
  SECTION("a positive error (the fuzzer's input; it was returned as errno -65792)") {
    CHECK(netlink_ack(from_hex("24000000 02000001 01000000 82470000 00010100 00008247 00000000 00002800"
                          "00000000 00")) == std::errc::protocol_error);
  }
  SECTION("too short to hold the error: it was read past the end") {
    CHECK(netlink_ack(from_hex("10000000 02000000 01000000 00000000")) == std::errc::protocol_error);
  }
  SECTION("INT_MIN, whose negation overflowed") {
    CHECK(netlink_ack(from_hex("24000000 02000000 01000000 00000000 00000080 10001400 05000000 01000000"
                          "00000000")) == std::errc::protocol_error);
  }
}
