#include "client_activity.hpp"

#include <algorithm>

namespace cplb::proxy {

namespace {

constexpr std::uint8_t tls_handshake = 22;
constexpr std::uint8_t tls_application_data = 23;

}  // namespace

void client_activity::on_bytes(std::span<const char> bytes, time_point now, std::chrono::nanoseconds quiet) {
  if (bytes.empty()) return;
  if (framing_ == framing::unknown)
    framing_ = static_cast<std::uint8_t>(bytes[0]) == tls_handshake ? framing::tls : framing::plain;
  if (framing_ == framing::plain) return on_record(bytes.size(), bytes.size() > control_record, now, quiet);

  for (std::size_t at = 0; at < bytes.size();) {
    if (record_left_ > 0) {
      const std::size_t take = std::min(record_left_, bytes.size() - at);
      record_left_ -= take;
      at += take;
      continue;
    }
    header_[header_have_++] = static_cast<std::uint8_t>(bytes[at++]);
    if (header_have_ < sizeof header_) continue;
    header_have_ = 0;
    const std::size_t length = (std::size_t{header_[3]} << 8) | header_[4];
    const std::uint8_t type = header_[0];
    record_left_ = length;
    if (type == tls_handshake || type == tls_application_data)
      on_record(length, type == tls_handshake || length > control_record, now, quiet);
  }
}

void client_activity::on_unseen(std::size_t size, time_point now, std::chrono::nanoseconds quiet) {
  if (size == 0) return;
  if (framing_ == framing::tls && header_have_ == 0 && size <= record_left_) record_left_ -= size;
  else framing_ = framing::plain;
  on_record(size, true, now, quiet);
}

void client_activity::on_record(std::size_t size, bool request, time_point now, std::chrono::nanoseconds quiet) {
  if (!request) {
    if (now - window_start_ >= quiet) {
      window_start_ = now;
      window_bytes_ = 0;
    }
    window_bytes_ += size;
    request = window_bytes_ > control_budget;
  }
  if (!request) return;
  last_request_ = now;
  window_start_ = now;
  window_bytes_ = 0;
}

handed_activity client_activity::save(time_point now) const {
  handed_activity out;
  out.since_request_ns = std::chrono::nanoseconds(now - last_request_).count();
  out.window_age_ns = std::chrono::nanoseconds(now - window_start_).count();
  out.window_bytes = window_bytes_;
  out.framing = static_cast<std::uint8_t>(framing_);
  std::copy(std::begin(header_), std::end(header_), std::begin(out.header));
  out.header_have = static_cast<std::uint8_t>(header_have_);
  out.record_left = record_left_;
  return out;
}

client_activity client_activity::restore(const handed_activity& saved, time_point now) {
  client_activity a(now - std::chrono::nanoseconds(saved.since_request_ns));
  a.window_start_ = now - std::chrono::nanoseconds(saved.window_age_ns);
  a.window_bytes_ = saved.window_bytes;
  // Another process's bytes: anything out of range resumes as if nothing had been seen yet.
  a.framing_ = saved.framing <= static_cast<std::uint8_t>(framing::plain) ? static_cast<framing>(saved.framing)
                                                                         : framing::unknown;
  // At most 4: a whole header is parsed (and header_have_ reset) as its fifth byte arrives.
  a.header_have_ = saved.header_have < sizeof a.header_ ? saved.header_have : 0;
  std::copy(std::begin(saved.header), std::end(saved.header), std::begin(a.header_));
  a.record_left_ = saved.record_left;
  return a;
}

}  // namespace cplb::proxy
