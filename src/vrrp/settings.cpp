#include "cplb/vrrp/settings.hpp"

#include <stdexcept>

namespace cplb::vrrp {

void validate(const settings& s) {
  if (s.version != 2 && s.version != 3) throw std::invalid_argument("vrrp version must be 2 or 3");
  if (s.virtual_router_id == 0) throw std::invalid_argument("virtual_router_id must be 1..255");
  if (s.priority < 1 || s.priority > 254) throw std::invalid_argument("priority must be 1..254");
  const auto cs = s.advert_interval.count();
  if (s.version == 3 && (cs < 1 || cs > 0x0fff))
    throw std::invalid_argument("advert_interval must be 10ms..40950ms with version 3");
  if (s.version == 2 && (cs % 100 != 0 || cs < 100 || cs > 25500))
    throw std::invalid_argument("advert_interval must be whole seconds 1s..255s with version 2");
  if (s.virtual_ips.size() > 255) throw std::invalid_argument("at most 255 virtual_ips");
  for (const auto& vip : s.virtual_ips)
    if (vip.is_v6() != s.primary_ip.is_v6())
      throw std::invalid_argument("virtual_ips must be of the family of the primary address");
  if (s.primary_ip.is_v6() && s.version != 3) throw std::invalid_argument("IPv6 needs vrrp version 3");
}

}  // namespace cplb::vrrp
