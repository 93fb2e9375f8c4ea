#include "upgrade_messages.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <utility>

namespace cplb::app {

namespace {

/// Appends fixed-width numbers and length-prefixed strings.
class writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) { raw(&v, sizeof v); }
  void u64(std::uint64_t v) { raw(&v, sizeof v); }
  void i64(std::int64_t v) { raw(&v, sizeof v); }
  void text(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_ += s;
  }
  std::string take() { return std::move(out_); }

 private:
  void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

/// Reads what writer wrote; any read past the end fails the whole reader, and then every
/// later read returns zero, so decoders check `ok()` once at the end.
class reader {
 public:
  explicit reader(const std::string& in) : in_(in) {}
  std::uint8_t u8() { return fixed<std::uint8_t>(); }
  std::uint32_t u32() { return fixed<std::uint32_t>(); }
  std::uint64_t u64() { return fixed<std::uint64_t>(); }
  std::int64_t i64() { return fixed<std::int64_t>(); }
  bool flag() { return u8() != 0; }
  std::string text() {
    const std::uint32_t n = u32();
    if (!ok_ || n > in_.size() - at_) return fail<std::string>();
    std::string s = in_.substr(at_, n);
    at_ += n;
    return s;
  }
  /// A count of items of at least `min_size` bytes each, bounded by what is left.
  std::uint32_t count(std::size_t min_size) {
    const std::uint32_t n = u32();
    if (!ok_ || n > (in_.size() - at_) / min_size) return fail<std::uint32_t>();
    return n;
  }
  bool ok() const { return ok_; }
  bool at_end() const { return ok_ && at_ == in_.size(); }

 private:
  template <typename T>
  T fixed() {
    if (!ok_ || in_.size() - at_ < sizeof(T)) return fail<T>();
    T v;
    std::memcpy(&v, in_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  template <typename T>
  T fail() {
    ok_ = false;
    return T{};
  }

  const std::string& in_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

/// Takes descriptor `index` of the frame (-1 when out of range); the frame closes the rest.
int take_fd(upgrade_frame& frame, std::uint32_t index) {
  if (index >= frame.fds.size()) return -1;
  return std::exchange(frame.fds[index], -1);
}

constexpr std::uint32_t no_fd = 0xffffffffu;

std::optional<socket_address> read_address(reader& r) { return socket_address::parse(r.text()); }

}  // namespace

std::string encode(const handed_state& state, std::vector<int>& fds) {
  writer w;
  w.u32(state.pid);
  w.u32(state.workers);
  w.u32(static_cast<std::uint32_t>(state.listeners.size()));
  for (const auto& l : state.listeners) {
    w.text(l.address.to_string());
    w.u32(static_cast<std::uint32_t>(l.fds.size()));
    for (int fd : l.fds) {
      w.u32(static_cast<std::uint32_t>(fds.size()));
      fds.push_back(fd);
    }
  }
  w.text(state.admin_address.to_string());
  w.u32(state.admin_fd >= 0 ? static_cast<std::uint32_t>(fds.size()) : no_fd);
  if (state.admin_fd >= 0) fds.push_back(state.admin_fd);
  w.u32(static_cast<std::uint32_t>(state.health.size()));
  for (const auto& h : state.health) {
    w.text(h.backend);
    w.text(h.server);
    w.text(h.address);
    w.u8(static_cast<std::uint8_t>(h.state));
    w.u8(static_cast<std::uint8_t>(h.reason));
    w.text(h.detail);
    w.u32(h.passes);
    w.u32(h.failures);
    w.u8(h.reachable);
  }
  w.u32(state.anycast_fd >= 0 ? static_cast<std::uint32_t>(fds.size()) : no_fd);
  if (state.anycast_fd >= 0) fds.push_back(state.anycast_fd);
  for (int fd : {state.sockmap.socks_fd, state.sockmap.slots_fd, state.sockmap.legs_fd}) {
    w.u32(fd >= 0 ? static_cast<std::uint32_t>(fds.size()) : no_fd);
    if (fd >= 0) fds.push_back(fd);
  }
  return w.take();
}

std::optional<handed_state> decode_state(upgrade_frame& frame) {
  reader r(frame.payload);
  handed_state s;
  // Every descriptor taken so far is closed again when the payload turns out malformed.
  const auto fail = [&s]() -> std::optional<handed_state> {
    for (auto& l : s.listeners)
      for (int fd : l.fds) ::close(fd);
    if (s.admin_fd >= 0) ::close(s.admin_fd);
    if (s.anycast_fd >= 0) ::close(s.anycast_fd);
    s.sockmap.close_fds();
    return std::nullopt;
  };
  s.pid = r.u32();
  s.workers = r.u32();
  for (std::uint32_t i = 0, n = r.count(8); i < n; ++i) {
    const auto address = read_address(r);
    auto& l = s.listeners.emplace_back();
    for (std::uint32_t j = 0, m = r.count(4); j < m; ++j) {
      const int fd = take_fd(frame, r.u32());
      if (fd >= 0) l.fds.push_back(fd);
    }
    if (!address || !r.ok()) return fail();
    l.address = *address;
  }
  const auto admin = read_address(r);
  if (admin) s.admin_address = *admin;
  if (const auto index = r.u32(); index != no_fd) s.admin_fd = take_fd(frame, index);
  for (std::uint32_t i = 0, n = r.count(16); i < n; ++i) {
    health::handed_health h;
    h.backend = r.text();
    h.server = r.text();
    h.address = r.text();
    const auto state = r.u8();
    const auto reason = r.u8();
    h.detail = r.text();
    h.passes = r.u32();
    h.failures = r.u32();
    h.reachable = r.flag();
    if (state > static_cast<std::uint8_t>(backend::server_state::down) ||
        reason > static_cast<std::uint8_t>(backend::down_reason::protocol_error))
      continue;  // a state this build does not know: the server is checked afresh
    h.state = static_cast<backend::server_state>(state);
    h.reason = static_cast<backend::down_reason>(reason);
    s.health.push_back(std::move(h));
  }
  // The anycast device and the sockmap's maps came last, and an older process sends neither.
  if (!r.at_end())
    if (const auto index = r.u32(); index != no_fd) s.anycast_fd = take_fd(frame, index);
  if (!r.at_end())
    for (int* fd : {&s.sockmap.socks_fd, &s.sockmap.slots_fd, &s.sockmap.legs_fd})
      if (const auto index = r.u32(); index != no_fd) *fd = take_fd(frame, index);
  if (!r.at_end()) return fail();
  return s;
}

std::string encode(const std::vector<proxy::handed_session>& batch, std::vector<int>& fds) {
  writer w;
  w.u32(static_cast<std::uint32_t>(batch.size()));
  for (const auto& h : batch) {
    w.u32(static_cast<std::uint32_t>(fds.size()));
    fds.push_back(h.client_fd);
    w.u32(h.upstream_fd >= 0 ? static_cast<std::uint32_t>(fds.size()) : no_fd);
    if (h.upstream_fd >= 0) fds.push_back(h.upstream_fd);
    w.text(h.frontend);
    w.text(h.server);
    w.text(h.server_address);
    w.text(h.to_server);
    w.text(h.to_client);
    w.u8(static_cast<std::uint8_t>(h.client_done | h.server_done << 1 | h.client_finished_first << 2 |
                                   h.connecting << 3 | h.awaiting_first_bytes << 4));
    w.i64(h.age_ns);
    w.i64(h.idle_ns);
    w.i64(h.close_in_ns);
    w.u64(h.client_key);
    const auto& a = h.activity;
    w.i64(a.since_request_ns);
    w.i64(a.window_age_ns);
    w.u64(a.window_bytes);
    w.u8(a.framing);
    for (auto b : a.header) w.u8(b);
    w.u8(a.header_have);
    w.u64(a.record_left);
  }
  // The sessions in the sockmap, after the rest and only when there are some (an older process
  // sends none), in the order of the batch.
  std::uint32_t in_sockmap = 0;
  for (const auto& h : batch) in_sockmap += h.sockmap_pair >= 0;
  if (in_sockmap == 0) return w.take();
  w.u32(in_sockmap);
  for (std::uint32_t i = 0; i < batch.size(); ++i) {
    const auto& h = batch[i];
    if (h.sockmap_pair < 0) continue;
    w.u32(i);
    w.u32(static_cast<std::uint32_t>(h.sockmap_pair));
    for (int d = 0; d < 2; ++d) {
      w.u64(h.written_base[d]);
      w.u64(h.redirect_counted[d]);
    }
  }
  return w.take();
}

std::optional<std::vector<proxy::handed_session>> decode_sessions(upgrade_frame& frame) {
  reader r(frame.payload);
  std::vector<proxy::handed_session> out;
  const auto fail = [&out] {
    for (auto& h : out) h.close_fds();
    return std::nullopt;
  };
  for (std::uint32_t i = 0, n = r.count(32); i < n; ++i) {
    proxy::handed_session h;
    h.client_fd = take_fd(frame, r.u32());
    if (const auto up = r.u32(); up != no_fd) h.upstream_fd = take_fd(frame, up);
    h.frontend = r.text();
    h.server = r.text();
    h.server_address = r.text();
    h.to_server = r.text();
    h.to_client = r.text();
    const auto flags = r.u8();
    h.client_done = flags & 1;
    h.server_done = flags & 2;
    h.client_finished_first = flags & 4;
    h.connecting = flags & 8;
    h.awaiting_first_bytes = flags & 16;
    h.age_ns = r.i64();
    h.idle_ns = r.i64();
    h.close_in_ns = r.i64();
    h.client_key = r.u64();
    auto& a = h.activity;
    a.since_request_ns = r.i64();
    a.window_age_ns = r.i64();
    a.window_bytes = r.u64();
    a.framing = r.u8();
    for (auto& b : a.header) b = r.u8();
    a.header_have = r.u8();
    a.record_left = r.u64();
    const bool sane = h.client_fd >= 0 && h.age_ns >= 0 && h.idle_ns >= 0;
    out.push_back(std::move(h));
    if (!r.ok() || !sane) return fail();
  }
  if (!r.at_end()) {
    const auto n = r.count(40);
    if (n == 0) return fail();  // never sent empty
    for (std::uint32_t i = 0, next = 0; i < n; ++i) {
      const auto index = r.u32();
      const auto pair = r.u32();
      if (index < next || index >= out.size() || out[index].upstream_fd < 0 || pair > INT32_MAX) return fail();
      next = index + 1;
      auto& h = out[index];
      h.sockmap_pair = pair;
      for (int d = 0; d < 2; ++d) {
        h.written_base[d] = r.u64();
        h.redirect_counted[d] = r.u64();
      }
    }
  }
  if (!r.at_end()) return fail();
  return out;
}

std::string encode(const handed_end& end) {
  writer w;
  w.u32(static_cast<std::uint32_t>(end.vrrp.size()));
  for (const auto& v : end.vrrp) {
    w.text(v.name);
    w.u8(static_cast<std::uint8_t>(v.current));
  }
  w.u8(end.reload_requested);
  w.text(end.counters);
  return w.take();
}

std::optional<handed_end> decode_end(const upgrade_frame& frame) {
  reader r(frame.payload);
  handed_end end;
  for (std::uint32_t i = 0, n = r.count(5); i < n; ++i) {
    vrrp::handed_instance v;
    v.name = r.text();
    const auto state = r.u8();
    if (state > static_cast<std::uint8_t>(vrrp::state::fault)) return std::nullopt;
    v.current = static_cast<vrrp::state>(state);
    end.vrrp.push_back(std::move(v));
  }
  end.reload_requested = r.flag();
  end.counters = r.text();
  if (!r.at_end()) return std::nullopt;
  return end;
}

std::string encode_text(const std::string& text) {
  writer w;
  w.text(text);
  return w.take();
}

std::optional<std::string> decode_text(const upgrade_frame& frame) {
  reader r(frame.payload);
  auto text = r.text();
  if (!r.at_end()) return std::nullopt;
  return text;
}

}  // namespace cplb::app
