#include "cplb/core/netlink_ack.hpp"

#include <linux/netlink.h>

namespace cplb {
namespace {

constexpr int max_errno = 4095;  ///< the kernel's MAX_ERRNO

}  // namespace

std::error_code netlink_ack(std::span<const std::uint8_t> reply) {
  auto remaining = static_cast<long>(reply.size());  // long: NLMSG_OK compares it with a __u32
  for (auto* h = reinterpret_cast<const nlmsghdr*>(reply.data()); NLMSG_OK(h, remaining);
       h = NLMSG_NEXT(h, remaining)) {
    if (h->nlmsg_type != NLMSG_ERROR) continue;
    // The kernel's error is 0 or a negative errno, followed by the request's header; anything
    // else is not an answer (and -INT_MIN would overflow).
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) break;
    const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
    if (err->error > 0 || err->error < -max_errno) break;
    return {-err->error, std::system_category()};
  }
  return std::make_error_code(std::errc::protocol_error);
}

}  // namespace cplb
