#include "cplb/vrrp/codec.hpp"

#include <algorithm>
#include <array>
#include <cassert>

#include "checksum.hpp"

namespace cplb::vrrp {
namespace {

constexpr std::size_t ipv4_min_header = 20;
constexpr std::size_t vrrp_header = 8;
constexpr std::size_t v2_auth_data = 8;
constexpr std::uint8_t type_advertisement = 1;

std::uint16_t load16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

std::uint32_t load32(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) << 24 | static_cast<std::uint32_t>(b[at + 1]) << 16 |
         static_cast<std::uint32_t>(b[at + 2]) << 8 | b[at + 3];
}

void store16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

/// The ones-complement sum of the pseudo-header for a VRRP message of `length` bytes: IPv4
/// (source, destination, zero, protocol, 16-bit length) or IPv6 (source, destination, 32-bit
/// length, three zeros, next header).
std::uint64_t pseudo_header_sum(const ip_address& source, const ip_address& destination, std::size_t length) {
  std::uint64_t sum = detail::checksum_add(detail::checksum_add(0, source.bytes()), destination.bytes());
  const auto byte = [length](int shift) { return static_cast<std::uint8_t>(length >> shift); };
  if (source.is_v4()) {
    const std::array<std::uint8_t, 4> rest{0, ip_protocol, byte(8), byte(0)};
    return detail::checksum_add(sum, rest);
  }
  const std::array<std::uint8_t, 8> rest{byte(24), byte(16), byte(8), byte(0), 0, 0, 0, ip_protocol};
  return detail::checksum_add(sum, rest);
}

/// The checksum over the message, preceded by the pseudo-header for v3.
std::uint16_t message_checksum(unsigned version, std::span<const std::uint8_t> message,
                               const ip_address& source, const ip_address& destination) {
  const std::uint64_t start = version == 3 ? pseudo_header_sum(source, destination, message.size()) : 0;
  return detail::checksum_finish(detail::checksum_add(start, message));
}

}  // namespace

decoded<ipv4_packet> parse_ipv4_packet(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < ipv4_min_header) return {decode_error::too_short};
  if (bytes[0] >> 4 != 4) return {decode_error::bad_ip_version};
  const std::size_t header_length = (bytes[0] & 0x0fU) * 4U;
  if (header_length < ipv4_min_header || header_length > bytes.size())
    return {decode_error::bad_ip_header_length};
  const std::size_t total_length = load16(bytes, 2);
  if (total_length < header_length || total_length > bytes.size())
    return {decode_error::bad_ip_total_length};
  const bool more_fragments = (bytes[6] & 0x20) != 0;
  const bool fragment_offset = (load16(bytes, 6) & 0x1fff) != 0;
  if (more_fragments || fragment_offset) return {decode_error::ip_fragment};
  if (bytes[9] != ip_protocol) return {decode_error::not_vrrp};
  return {decode_error::none,
          ipv4_packet{ip_address::v4(load32(bytes, 12)), ip_address::v4(load32(bytes, 16)), bytes[8],
                      bytes.subspan(header_length, total_length - header_length)}};
}

std::vector<std::uint8_t> encode(const advert& message, const ip_address& destination) {
  assert(message.version == 2 || message.version == 3);
  assert(message.version == 3 || destination.is_v4());
  assert(message.sender.is_v6() == destination.is_v6());
  assert(message.addresses.size() <= 255);
  const auto centiseconds = message.max_advert_interval.count();
  std::vector<std::uint8_t> out;
  out.reserve(vrrp_header + destination.bytes().size() * message.addresses.size() + v2_auth_data);
  out.push_back(static_cast<std::uint8_t>(message.version << 4 | type_advertisement));
  out.push_back(message.virtual_router_id);
  out.push_back(message.priority);
  out.push_back(static_cast<std::uint8_t>(message.addresses.size()));
  if (message.version == 3) {
    assert(centiseconds >= 1 && centiseconds <= 0x0fff);
    out.push_back(static_cast<std::uint8_t>(centiseconds >> 8 & 0x0f));
    out.push_back(static_cast<std::uint8_t>(centiseconds));
  } else {
    assert(centiseconds % 100 == 0 && centiseconds >= 100 && centiseconds <= 25500);
    out.push_back(0);  // auth type 0: none
    out.push_back(static_cast<std::uint8_t>(centiseconds / 100));
  }
  out.push_back(0);  // checksum, filled below
  out.push_back(0);
  for (const auto& address : message.addresses) {
    assert(address.is_v6() == destination.is_v6());
    out.insert(out.end(), address.bytes().begin(), address.bytes().end());
  }
  if (message.version == 2) out.insert(out.end(), v2_auth_data, 0);
  store16(out, 6, message_checksum(message.version, out, message.sender, destination));
  return out;
}

decoded<advert> decode(std::span<const std::uint8_t> bytes, const ip_address& source,
                       const ip_address& destination) {
  if (bytes.size() < vrrp_header) return {decode_error::too_short};
  const unsigned version = bytes[0] >> 4;
  if (version != 3 && (version != 2 || source.is_v6())) return {decode_error::bad_version};
  if ((bytes[0] & 0x0f) != type_advertisement) return {decode_error::bad_type};
  if (bytes[1] == 0) return {decode_error::zero_vrid};
  const std::size_t count = bytes[3];
  const std::size_t address_size = source.bytes().size();
  const std::size_t expected = vrrp_header + address_size * count + (version == 2 ? v2_auth_data : 0);
  if (bytes.size() != expected) return {decode_error::length_mismatch};
  if (version == 2 && bytes[4] != 0) return {decode_error::bad_auth_type};
  // v3: the top 4 bits are reserved and ignored on reception. v2: whole seconds.
  const centiseconds interval =
      version == 3 ? centiseconds(load16(bytes, 4) & 0x0fff) : std::chrono::seconds(bytes[5]);
  if (interval.count() == 0) return {decode_error::zero_interval};
  if (message_checksum(version, bytes, source, destination) != 0) return {decode_error::bad_checksum};

  advert a;
  a.version = version;
  a.virtual_router_id = bytes[1];
  a.priority = bytes[2];
  a.max_advert_interval = interval;
  a.sender = source;
  a.addresses.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto at = vrrp_header + address_size * i;
    if (source.is_v4()) {
      a.addresses.push_back(ip_address::v4(load32(bytes, at)));
    } else {
      std::array<std::uint8_t, 16> v6{};
      std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(at), v6.size(), v6.begin());
      a.addresses.push_back(ip_address::v6(v6));
    }
  }
  return {decode_error::none, std::move(a)};
}

}  // namespace cplb::vrrp
