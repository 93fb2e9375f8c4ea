#pragma once
#include <cstdint>
#include <span>

// The Internet checksum (RFC 1071) over big-endian 16-bit words.
namespace cplb::vrrp::detail {

/// Adds `bytes` to a running ones-complement sum; an odd last byte is padded with zero. Only the
/// last span of a sum may have odd length.
std::uint64_t checksum_add(std::uint64_t sum, std::span<const std::uint8_t> bytes);

/// Folds a running sum into the 16-bit checksum field value (0 means the data verifies when
/// the sum included a checksum field).
std::uint16_t checksum_finish(std::uint64_t sum);

}  // namespace cplb::vrrp::detail
