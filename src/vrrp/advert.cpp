#include "cplb/vrrp/advert.hpp"

namespace cplb::vrrp {

std::string format_ipv4(ipv4_address address) {
  return std::to_string(address >> 24) + '.' + std::to_string(address >> 16 & 0xff) + '.' +
         std::to_string(address >> 8 & 0xff) + '.' + std::to_string(address & 0xff);
}

}  // namespace cplb::vrrp
