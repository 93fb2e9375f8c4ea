#pragma once
#include <string>
#include <variant>

#include "cplb/vrrp/advert.hpp"

namespace cplb::vrrp {

/// Send this advert (encode it per destination: 224.0.0.18 or each unicast peer).
struct send_advert {
  advert message;  ///< complete, with our address as sender
  friend bool operator==(const send_advert&, const send_advert&) = default;
};

/// Add the virtual IPs to the interface.
struct add_vips {
  friend bool operator==(const add_vips&, const add_vips&) = default;
};

/// Remove the virtual IPs from the interface.
struct remove_vips {
  friend bool operator==(const remove_vips&, const remove_vips&) = default;
};

/// Announce the virtual IPs with gratuitous ARP (the shell repeats per garp.count/interval).
struct send_garp {
  friend bool operator==(const send_garp&, const send_garp&) = default;
};

/// One thing the shell must do, in the order given.
using action = std::variant<send_advert, add_vips, remove_vips, send_garp>;

/// `send_advert(priority=100)`, `add_vips`, `remove_vips` or `send_garp`.
std::string to_string(const action& a);

}  // namespace cplb::vrrp
