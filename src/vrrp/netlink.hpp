#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

#include "cplb/vrrp/advert.hpp"

// rtnetlink without a library: IPv4 and IPv6 addresses on an interface (`ip addr add/del`), and the link
// events of RTMGRP_LINK. Address requests are synchronous: the kernel answers them within the
// send, so they never wait on the network.
namespace cplb::vrrp::detail {

/// Adds `address/prefix_length` to interface `ifindex` (IPv6 with IFA_F_NODAD: usable at once);
/// an address already there is success.
std::error_code add_address(unsigned ifindex, const ip_address& address, unsigned prefix_length);

/// Removes every copy of `address` from interface `ifindex` and counts them in `removed`: IPv4
/// whatever its prefix length, IPv6 with `prefix_length`. An address not there is success.
std::error_code remove_address(unsigned ifindex, const ip_address& address, unsigned prefix_length,
                               unsigned& removed);

/// Opens a non-blocking netlink socket subscribed to link changes (RTMGRP_LINK); throws
/// std::system_error on failure.
int open_link_monitor();

/// The link state of `ifindex` in a batch of netlink messages read from the monitor: true when up
/// with a carrier, false when down or deleted, nullopt when the batch does not mention it. The
/// last message about the interface wins.
std::optional<bool> link_state_in(std::span<const std::uint8_t> messages, unsigned ifindex);

}  // namespace cplb::vrrp::detail
