#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "cplb/vrrp/advert.hpp"

// The VRRP wire format: v3 (RFC 5798, IPv4 and IPv6) and v2 (RFC 3768, IPv4 only, auth type 0
// only), plus the IPv4 header split a raw IPPROTO_VRRP socket needs (an IPv6 raw socket delivers
// the message alone). Pure: no sockets.
namespace cplb::vrrp {

/// The IP protocol number of VRRP.
inline constexpr std::uint8_t ip_protocol = 112;
/// The IPv4 multicast group of VRRP, 224.0.0.18.
inline constexpr ip_address multicast_group = ip_address::v4(0xe0000012);
/// The IPv6 multicast group of VRRP, ff02::12.
inline constexpr ip_address multicast_group_v6 =
    ip_address::v6({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12});
/// The TTL every VRRP packet must carry (RFC 5798 5.1.1.3).
inline constexpr std::uint8_t required_ttl = 255;

/// Why a received packet was rejected.
enum class decode_error {
  none,                  ///< accepted
  too_short,             ///< shorter than the fixed header
  bad_ip_version,        ///< the IP version is not 4
  bad_ip_header_length,  ///< IHL below 5 or past the end of the bytes
  bad_ip_total_length,   ///< total length below the header length or past the end of the bytes
  ip_fragment,           ///< a fragment: VRRP packets are never fragmented
  not_vrrp,              ///< the IP protocol is not 112
  bad_version,           ///< the VRRP version is not 2 or 3, or 2 over IPv6
  bad_type,              ///< the VRRP type is not 1 (advertisement)
  zero_vrid,             ///< virtual router id 0
  length_mismatch,       ///< the length is not what the address count implies
  bad_auth_type,         ///< v2 with an auth type other than 0 (none)
  zero_interval,         ///< an advertisement interval of 0
  bad_checksum,          ///< v3 over the pseudo-header, v2 over the message
};

/// The snake_case name of a decode_error, for logs and metrics.
const char* to_string(decode_error e);

/// A decoded value, or why there is none.
template <typename T>
struct decoded {
  decode_error error = decode_error::none;  ///< none when value is meaningful
  T value{};                                ///< the result when error is none
  /// True when decoding succeeded.
  bool ok() const { return error == decode_error::none; }
};

/// The parts of an IPv4 packet VRRP needs; payload points into the parsed bytes.
struct ipv4_packet {
  ip_address source;                      ///< the sender
  ip_address destination;                 ///< 224.0.0.18 or our unicast address
  std::uint8_t ttl = 0;                   ///< must be 255 for VRRP (the caller checks)
  std::span<const std::uint8_t> payload;  ///< the VRRP message, cut at the total length
};

/// Splits an IPv4 packet as a raw socket delivers it: checks version, IHL, total length,
/// fragmentation and protocol 112.
decoded<ipv4_packet> parse_ipv4_packet(std::span<const std::uint8_t> bytes);

/// Serializes an advert (without IP header). v3 checksums over the IPv4 or IPv6 pseudo-header
/// (RFC 5798 5.2.8, RFC 8200 8.1) from `message.sender` to `destination`; v2 over the message,
/// with auth type 0 and 8 zero auth bytes. Preconditions (asserted): version 2 or 3, 3 for IPv6;
/// interval 1..4095 cs (v3) or whole 1..255 s (v2); at most 255 addresses, all of the family of
/// `destination`, as `message.sender` is.
std::vector<std::uint8_t> encode(const advert& message, const ip_address& destination);

/// Parses and verifies a VRRP message whose IP header said `source` -> `destination` (one family);
/// the addresses are of that family.
decoded<advert> decode(std::span<const std::uint8_t> bytes, const ip_address& source,
                       const ip_address& destination);

}  // namespace cplb::vrrp
