#pragma once
#include <linux/netlink.h>

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <system_error>

// rtnetlink without a library: one request at a time on a socket of its own, answered within the
// send (address and route changes never wait on the network).
namespace cplb::anycast::detail {

/// One rtnetlink request: a header of `Family` (rtmsg, ifaddrmsg) and attributes after it.
class request {
 public:
  /// A request of `type` with `flags` (NLM_F_REQUEST is implied) and the family header `body`.
  template <typename Family>
  request(std::uint16_t type, std::uint16_t flags, const Family& body) {
    init(type, flags, &body, sizeof body);
  }
  /// Appends attribute `type` holding `size` bytes of `data`.
  void put(std::uint16_t type, const void* data, std::size_t size);
  /// Appends a 32-bit attribute.
  void put_u32(std::uint16_t type, std::uint32_t value) { put(type, &value, sizeof value); }
  /// Adds NLM_F_ flags to the header.
  void add_flags(std::uint16_t flags);
  /// The message as sent.
  std::span<const std::uint8_t> bytes() const;

 private:
  void init(std::uint16_t type, std::uint16_t flags, const void* body, std::size_t size);
  alignas(nlmsghdr) std::array<std::uint8_t, 256> buffer_{};
};

/// Sends `r` with NLM_F_ACK and returns the kernel's verdict.
std::error_code transact(request& r);

/// Sends the dump request `r` (NLM_F_DUMP) and calls `each` on every message of the answer. The
/// kernel may apply the filters of `r` or not: `each` must check what it gets.
std::error_code dump(request& r, const std::function<void(const nlmsghdr&)>& each);

/// Calls `each(type, payload)` for every attribute in the `length` bytes at `first`.
void for_each_attribute(const void* first, std::size_t length,
                        const std::function<void(std::uint16_t, std::span<const std::uint8_t>)>& each);

}  // namespace cplb::anycast::detail
