#pragma once
#include <cstdint>
#include <span>
#include <system_error>

namespace cplb {

/// The kernel's verdict in the reply to an rtnetlink request sent with NLM_F_ACK: the error of
/// its first NLMSG_ERROR message (0 is success), protocol_error when it has none or one the
/// kernel would not send. The VRRP shell's addresses and anycast's routes share it.
std::error_code netlink_ack(std::span<const std::uint8_t> reply);

}  // namespace cplb
