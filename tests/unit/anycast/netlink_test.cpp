// The rtnetlink piece that needs no kernel: building a request (core's netlink_ack reads the answer).
#include <catch2/catch.hpp>

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "netlink.hpp"

namespace cplb::anycast::detail {

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


}  // namespace cplb::anycast::detail
