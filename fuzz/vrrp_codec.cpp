// The VRRP codec (v2 and v3 over IPv4, v3 over IPv6): every input is tried as a whole IPv4 packet,
// as a bare VRRP message over each family, and as the fields of an advert to encode. Whatever
// decodes, or is encoded, must come back unchanged from decode(encode(x)).
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdio>
#include <cstdlib>

#include "cplb/vrrp/codec.hpp"

namespace {

using namespace cplb::vrrp;

/// Where a bare message is taken to come from (keepalived's captures in tests/unit/vrrp).
constexpr ip_address captured_source = ip_address::v4(0xc0000201);  // 192.0.2.1
/// Likewise over IPv6: fe80::1.
constexpr ip_address captured_source_v6 = ip_address::v6({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "vrrp round trip: %s\n", what);
  std::abort();
}

/// decode(encode(a)) is `a` again, field by field.
void round_trip(const advert& a, const ip_address& destination) {
  const auto again = decode(encode(a, destination), a.sender, destination);
  if (!again.ok()) std::fprintf(stderr, "decode error: %s\n", to_string(again.error));
  require(again.ok(), "the encoding does not decode");
  const advert& b = again.value;
  require(b.version == a.version, "version");
  require(b.virtual_router_id == a.virtual_router_id, "virtual_router_id");
  require(b.priority == a.priority, "priority");
  require(b.max_advert_interval == a.max_advert_interval, "max_advert_interval");
  require(b.addresses == a.addresses, "addresses");
  require(b.sender == a.sender, "sender");
  require(b == a, "operator== disagrees with the fields");
}

void decode_then_round_trip(std::span<const std::uint8_t> message, const ip_address& source,
                            const ip_address& destination) {
  const auto got = decode(message, source, destination);
  if (!got.ok()) return;
  require(got.value.sender == source, "decode did not take the sender from the IP source");
  round_trip(got.value, destination);
}

/// An advert within encode's preconditions, from arbitrary bytes.
void encode_then_round_trip(FuzzedDataProvider& in) {
  advert a;
  const bool v6 = in.ConsumeBool();
  a.version = v6 || in.ConsumeBool() ? 3 : 2;  // RFC 3768 is IPv4 only
  a.virtual_router_id = in.ConsumeIntegralInRange<std::uint8_t>(1, 255);
  a.priority = in.ConsumeIntegral<std::uint8_t>();
  a.max_advert_interval = a.version == 3
      ? centiseconds(in.ConsumeIntegralInRange<std::int64_t>(1, 0x0fff))
      : std::chrono::seconds(in.ConsumeIntegralInRange<std::int64_t>(1, 255));
  const auto address = [&in, v6] {
    if (!v6) return ip_address::v4(in.ConsumeIntegral<ipv4_address>());
    std::array<std::uint8_t, 16> bytes{};
    for (auto& b : bytes) b = in.ConsumeIntegral<std::uint8_t>();
    return ip_address::v6(bytes);
  };
  a.sender = address();
  const auto destination = address();
  const auto count = in.ConsumeIntegralInRange<std::size_t>(0, 255);
  for (std::size_t i = 0; i < count && in.remaining_bytes() > 0; ++i) a.addresses.push_back(address());
  round_trip(a, destination);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  if (const auto ip = parse_ipv4_packet(bytes); ip.ok()) {
    const auto& p = ip.value;
    require(p.payload.data() >= bytes.data() &&
                p.payload.data() + p.payload.size() <= bytes.data() + bytes.size(),
            "the IPv4 payload is not inside the packet");
    decode_then_round_trip(p.payload, p.source, p.destination);
  }
  decode_then_round_trip(bytes, captured_source, multicast_group);
  decode_then_round_trip(bytes, captured_source_v6, multicast_group_v6);
  FuzzedDataProvider fields(data, size);
  encode_then_round_trip(fields);
  return 0;
}
