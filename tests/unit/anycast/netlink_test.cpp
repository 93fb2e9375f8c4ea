// The rtnetlink pieces that need no kernel: building a request, reading an answer.
#include <catch2/catch.hpp>

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "netlink.hpp"

namespace cplb::anycast::detail {
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

TEST_CASE("a request carries its family header and aligned attributes") {
  rtmsg body{};
  body.rtm_family = AF_INET6;
  request r(RTM_NEWROUTE, NLM_F_CREATE, body);
  const std::uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8};
  r.put(RTA_DST, dst, sizeof dst);
  r.put_u32(RTA_TABLE, 1000);
  r.add_flags(NLM_F_ACK);
  const auto bytes = r.bytes();
  const auto* h = reinterpret_cast<const nlmsghdr*>(bytes.data());
  CHECK(h->nlmsg_type == RTM_NEWROUTE);
  CHECK(h->nlmsg_flags == (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK));
  CHECK(bytes.size() == NLMSG_LENGTH(sizeof(rtmsg)) + RTA_SPACE(16) + RTA_SPACE(4));
  CHECK(static_cast<const rtmsg*>(NLMSG_DATA(h))->rtm_family == AF_INET6);

  std::vector<std::pair<std::uint16_t, std::size_t>> seen;
  std::uint32_t table = 0;
  for_each_attribute(RTM_RTA(NLMSG_DATA(h)), RTM_PAYLOAD(h), [&](std::uint16_t type, auto value) {
    seen.emplace_back(type, value.size());
    if (type == RTA_TABLE) std::memcpy(&table, value.data(), 4);
  });
  CHECK(seen == std::vector<std::pair<std::uint16_t, std::size_t>>{{RTA_DST, 16}, {RTA_TABLE, 4}});
  CHECK(table == 1000);
}

TEST_CASE("an ack is read as the kernel's verdict, anything else as a protocol error") {
  CHECK_FALSE(ack_in(ack(0)));
  CHECK(ack_in(ack(-EEXIST)) == std::errc::file_exists);
  CHECK(ack_in(ack(-ESRCH)) == std::errc::no_such_process);
  CHECK(ack_in(ack(5)) == std::errc::protocol_error);       // not a negative errno
  CHECK(ack_in(ack(-100000)) == std::errc::protocol_error); // beyond MAX_ERRNO
  auto truncated = ack(0);
  truncated.resize(NLMSG_HDRLEN + 2);
  reinterpret_cast<nlmsghdr*>(truncated.data())->nlmsg_len = static_cast<std::uint32_t>(truncated.size());
  CHECK(ack_in(truncated) == std::errc::protocol_error);
  CHECK(ack_in({}) == std::errc::protocol_error);
}

}  // namespace cplb::anycast::detail
