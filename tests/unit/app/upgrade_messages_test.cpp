#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "upgrade_messages.hpp"
#include "upgrade_test_support.hpp"

using cplb::socket_address;
using cplb::app::handed_end;
using cplb::app::handed_state;
using cplb::app::upgrade_frame;
using cplb::app::upgrade_message;
using cplb::backend::down_reason;
using cplb::backend::server_state;
using cplb::health::handed_health;
using cplb::proxy::handed_listener;
using cplb::proxy::handed_session;
namespace app = cplb::app;
namespace vrrp = cplb::vrrp;
using namespace cplb::app::test;

namespace {

/// The frame the other process would receive for `payload` and `fds`: the channel gives it
/// copies of the descriptors, as dup() does here.
upgrade_frame frame_of(upgrade_message type, const std::string& payload, const std::vector<int>& fds) {
  upgrade_frame f;
  f.type = type;
  f.payload = payload;
  for (int fd : fds) {
    const int copy = ::dup(fd);
    REQUIRE(copy >= 0);
    f.fds.push_back(copy);
  }
  return f;
}

/// A frame carrying `payload` alone (the messages without descriptors).
upgrade_frame payload_frame(std::string payload) {
  upgrade_frame f;
  f.payload = std::move(payload);
  return f;
}

/// True when `a` and `b` are descriptors of the same open file.
bool same_file(int a, int b) {
  struct stat sa {}, sb {};
  if (::fstat(a, &sa) != 0 || ::fstat(b, &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void close_all(handed_state& s) {
  for (auto& l : s.listeners)
    for (int fd : l.fds) ::close(fd);
  if (s.admin_fd >= 0) ::close(s.admin_fd);
  if (s.anycast_fd >= 0) ::close(s.anycast_fd);
  s.sockmap.close_fds();
}

void close_all(std::vector<handed_session>& batch) {
  for (auto& h : batch) h.close_fds();
}

/// What the other process decodes of `value`, sent as a `type` frame.
template <typename Got>
struct decoded {
  upgrade_frame frame;  ///< after the decode: the descriptors it did not take
  Got got;
};

/// Encodes `value`, which must ride with `fd_count` descriptors, and decodes it with `decode`
/// from the frame the other process would receive.
template <typename Value, typename Decode>
auto round_trip(upgrade_message type, const Value& value, std::size_t fd_count, Decode decode) {
  std::vector<int> fds;
  const auto payload = app::encode(value, fds);
  CHECK(fds.size() == fd_count);
  auto frame = frame_of(type, payload, fds);
  auto got = decode(frame);
  return decoded<decltype(got)>{std::move(frame), std::move(got)};
}

const auto decode_state = [](upgrade_frame& f) { return app::decode_state(f); };
const auto decode_sessions = [](upgrade_frame& f) { return app::decode_sessions(f); };

/// Checks that `decode` refuses every truncation of `payload` (sent with `fds` as a `type`
/// frame) but those that leave out `optional_tails` bytes (the fields an older process does not
/// send), and that no truncation leaks a descriptor.
template <typename Decode>
void check_truncations_refused(upgrade_message type, const std::string& payload,
                               const std::vector<int>& fds, Decode decode,
                               std::vector<std::size_t> optional_tails = {}) {
  const int before = open_fd_count();
  std::size_t accepted = 0;
  for (std::size_t size = 0; size < payload.size(); ++size) {
    if (std::ranges::find(optional_tails, payload.size() - size) != optional_tails.end())
      continue;  // a complete message of an older process
    auto frame = frame_of(type, payload.substr(0, size), fds);
    auto got = decode(frame);
    if (got) {
      ++accepted;
      close_all(*got);
    }
    frame = upgrade_frame{};
    if (open_fd_count() != before) FAIL_CHECK("descriptors leaked at prefix " << size << " of " << payload.size());
    REQUIRE(open_fd_count() == before);
  }
  CHECK(accepted == 0);
}

/// Checks that `decode` refuses every truncation of the descriptor-free `payload`, and
/// `payload` with `pad` after it.
template <typename Decode>
void check_truncated_and_padded_refused(const std::string& payload, char pad, Decode decode) {
  for (std::size_t size = 0; size < payload.size(); ++size)
    CHECK_FALSE(decode(payload_frame(payload.substr(0, size))));
  CHECK_FALSE(decode(payload_frame(payload + pad)));
}

/// Writes a payload by hand, in the messages' format (native-endian numbers, u32-prefixed
/// text), to say what a valid encoder never would.
class payload_writer {
 public:
  payload_writer& u8(std::uint8_t v) { out.push_back(static_cast<char>(v)); return *this; }
  payload_writer& u32(std::uint32_t v) { return raw(&v, sizeof v); }
  payload_writer& i64(std::int64_t v) { return raw(&v, sizeof v); }
  payload_writer& u64(std::uint64_t v) { return raw(&v, sizeof v); }
  payload_writer& text(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out += s;
    return *this;
  }
  std::string out;

 private:
  payload_writer& raw(const void* p, std::size_t n) {
    out.append(static_cast<const char*>(p), n);
    return *this;
  }
};

constexpr std::uint32_t no_fd = 0xffffffffu;

/// One health entry in the wire format.
void write_health(payload_writer& w, const std::string& server, std::uint8_t state, std::uint8_t reason) {
  w.text("be").text(server).text("10.0.0.1:6443").u8(state).u8(reason).text("").u32(1).u32(2).u8(1);
}

/// One session in the wire format: client descriptor `client`, upstream `upstream`.
void write_session(payload_writer& w, std::uint32_t client, std::uint32_t upstream, std::int64_t age_ns = 1) {
  w.u32(client).u32(upstream).text("fe").text("s0").text("10.0.0.1:6443").text("").text("");
  w.u8(0).i64(age_ns).i64(0).i64(-1).u64(0);
  w.i64(0).i64(0).u64(0).u8(0);
  for (int i = 0; i < 5; ++i) w.u8(0);
  w.u8(0).u64(0);
}

/// A state with two listeners of two and three workers' sockets, the admin socket, three
/// health entries, the anycast device and the sockmap's three maps; its descriptors are the
/// pipes'.
struct sample_state {
  test_pipe p1, p2, p3, p4, p5;
  handed_state state;
  sample_state() {
    state.pid = 4242;
    state.workers = 3;
    state.listeners.push_back({*socket_address::parse("127.0.0.1:6443"),
                               {p1.read_end.get(), p1.write_end.get()}});
    state.listeners.push_back({*socket_address::parse("[::1]:443"),
                               {p2.read_end.get(), p2.write_end.get(), p3.read_end.get()}});
    state.admin_address = *socket_address::parse("127.0.0.1:9000");
    state.admin_fd = p3.write_end.get();
    state.health.push_back({"be", "s0", "10.0.0.1:6443", server_state::up, down_reason::none, "", 3, 0, true});
    state.health.push_back(
        {"be", "s1", "10.0.0.2:6443", server_state::down, down_reason::http_status, "503", 0, 2, true});
    state.health.push_back({"other", "s0", "[fd00::1]:6443", server_state::not_ready,
                            down_reason::protocol_error, "bad\0line", 1, 1, false});
    state.anycast_fd = p4.read_end.get();
    state.sockmap = {p4.write_end.get(), p5.read_end.get(), p5.write_end.get()};
  }
};

/// A batch of three sessions: one pumping with a backlog each way, one awaiting its first
/// bytes (no upstream), one connecting; descriptors are the pipes'.
struct sample_batch {
  test_pipe p1, p2, p3;
  std::vector<handed_session> batch;
  sample_batch() {
    handed_session a;
    a.client_fd = p1.read_end.get();
    a.upstream_fd = p1.write_end.get();
    a.frontend = "api";
    a.server = std::string("s1");  // not = "s1": GCC 12 warns of a false -Wmaybe-uninitialized
    a.server_address = "10.0.0.2:6443";
    a.to_server = std::string("\x16\x03\x01\0\x05hello\0\xff", 12);
    a.to_client = std::string(70000, '\0') + "\x80tail";
    a.client_done = true;
    a.client_finished_first = true;
    a.age_ns = 123'456'789'000;
    a.idle_ns = 5'000'000;
    a.close_in_ns = 2'500'000'000;
    a.client_key = 0xdeadbeefcafef00dULL;
    a.activity.since_request_ns = 7'000'000'000;
    a.activity.window_age_ns = 1'000'000'000;
    a.activity.window_bytes = 300;
    a.activity.framing = 1;
    a.activity.header[0] = 23;
    a.activity.header[1] = 3;
    a.activity.header[2] = 3;
    a.activity.header_have = 3;
    a.activity.record_left = 0;
    a.sockmap_pair = 4095;
    a.written_base[0] = 1;
    a.written_base[1] = 0xffffffff00000000ULL;
    a.redirect_counted[0] = 77;
    a.redirect_counted[1] = 1ULL << 40;
    batch.push_back(std::move(a));

    handed_session b;
    b.client_fd = p2.read_end.get();
    b.frontend = "api";
    b.awaiting_first_bytes = true;
    b.age_ns = 10;
    b.activity.record_left = 1234;
    batch.push_back(std::move(b));

    handed_session c;
    c.client_fd = p3.read_end.get();
    c.upstream_fd = p3.write_end.get();
    c.frontend = "other";
    c.server = std::string("s0");  // as above
    c.server_address = "[fd00::1]:6443";
    c.connecting = true;
    c.server_done = true;
    c.activity.framing = 2;
    batch.push_back(std::move(c));
  }
};

void check_same(const handed_session& got, const handed_session& want) {
  CHECK(got.frontend == want.frontend);
  CHECK(got.server == want.server);
  CHECK(got.server_address == want.server_address);
  CHECK((got.to_server == want.to_server));
  CHECK((got.to_client == want.to_client));
  CHECK(got.client_done == want.client_done);
  CHECK(got.server_done == want.server_done);
  CHECK(got.client_finished_first == want.client_finished_first);
  CHECK(got.connecting == want.connecting);
  CHECK(got.awaiting_first_bytes == want.awaiting_first_bytes);
  CHECK(got.age_ns == want.age_ns);
  CHECK(got.idle_ns == want.idle_ns);
  CHECK(got.close_in_ns == want.close_in_ns);
  CHECK(got.client_key == want.client_key);
  CHECK(got.activity.since_request_ns == want.activity.since_request_ns);
  CHECK(got.activity.window_age_ns == want.activity.window_age_ns);
  CHECK(got.activity.window_bytes == want.activity.window_bytes);
  CHECK(got.activity.framing == want.activity.framing);
  CHECK(std::memcmp(got.activity.header, want.activity.header, sizeof got.activity.header) == 0);
  CHECK(got.activity.header_have == want.activity.header_have);
  CHECK(got.activity.record_left == want.activity.record_left);
  CHECK(got.sockmap_pair == want.sockmap_pair);
  CHECK(got.written_base[0] == want.written_base[0]);
  CHECK(got.written_base[1] == want.written_base[1]);
  CHECK(got.redirect_counted[0] == want.redirect_counted[0]);
  CHECK(got.redirect_counted[1] == want.redirect_counted[1]);
  CHECK((got.upstream_fd >= 0) == (want.upstream_fd >= 0));
  CHECK(same_file(got.client_fd, want.client_fd));
  if (want.upstream_fd >= 0) CHECK(same_file(got.upstream_fd, want.upstream_fd));
}

}  // namespace

TEST_CASE("upgrade_messages: a state round-trips with its listeners, admin socket, health, anycast device and sockmap") {
  sample_state sample;
  const int before = open_fd_count();
  {
    auto [frame, got] = round_trip(upgrade_message::state, sample.state, 10, decode_state);
    REQUIRE(got);
    CHECK(got->pid == 4242);
    CHECK(got->workers == 3);
    REQUIRE(got->listeners.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      const auto& want = sample.state.listeners[i];
      CHECK(got->listeners[i].address == want.address);
      REQUIRE(got->listeners[i].fds.size() == want.fds.size());
      for (std::size_t j = 0; j < want.fds.size(); ++j) {
        CHECK(got->listeners[i].fds[j] != want.fds[j]);
        CHECK(same_file(got->listeners[i].fds[j], want.fds[j]));
      }
    }
    CHECK(got->admin_address == sample.state.admin_address);
    CHECK(same_file(got->admin_fd, sample.state.admin_fd));
    CHECK(same_file(got->anycast_fd, sample.state.anycast_fd));
    CHECK(same_file(got->sockmap.socks_fd, sample.state.sockmap.socks_fd));
    CHECK(same_file(got->sockmap.slots_fd, sample.state.sockmap.slots_fd));
    CHECK(same_file(got->sockmap.legs_fd, sample.state.sockmap.legs_fd));
    REQUIRE(got->health.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      const auto& h = got->health[i];
      const auto& want = sample.state.health[i];
      CHECK(h.backend == want.backend);
      CHECK(h.server == want.server);
      CHECK(h.address == want.address);
      CHECK(h.state == want.state);
      CHECK(h.reason == want.reason);
      CHECK(h.detail == want.detail);
      CHECK(h.passes == want.passes);
      CHECK(h.failures == want.failures);
      CHECK(h.reachable == want.reachable);
    }
    // The decoder took every descriptor: the frame closes none of them.
    for (int fd : frame.fds) CHECK(fd == -1);
    close_all(*got);
  }
  CHECK(open_fd_count() == before);
}

TEST_CASE("upgrade_messages: a state without admin socket, listeners or health round-trips") {
  handed_state s;
  s.pid = 1;
  const auto [frame, got] = round_trip(upgrade_message::state, s, 0, decode_state);
  REQUIRE(got);
  CHECK(got->pid == 1);
  CHECK(got->listeners.empty());
  CHECK(got->admin_fd == -1);
  CHECK(got->health.empty());
  CHECK(got->anycast_fd == -1);
}

TEST_CASE("upgrade_messages: a state from a process without anycast (no last field) is read") {
  payload_writer w;
  w.u32(7).u32(2).u32(0).text("127.0.0.1:9000").u32(no_fd).u32(0);
  auto frame = frame_of(upgrade_message::state, w.out, {});
  const auto got = app::decode_state(frame);
  REQUIRE(got);
  CHECK(got->pid == 7);
  CHECK(got->anycast_fd == -1);
  CHECK(got->sockmap.legs_fd == -1);
}

TEST_CASE("upgrade_messages: a batch of sessions round-trips with every field") {
  sample_batch sample;
  const int before = open_fd_count();
  {
    auto [frame, got] = round_trip(upgrade_message::sessions, sample.batch, 5, decode_sessions);
    REQUIRE(got);
    REQUIRE(got->size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      INFO("session " << i);
      check_same((*got)[i], sample.batch[i]);
    }
    CHECK((*got)[1].upstream_fd == -1);
    close_all(*got);
  }
  CHECK(open_fd_count() == before);
}

TEST_CASE("upgrade_messages: a batch from a process without the sockmap (no trailer) is read") {
  sample_batch sample;
  std::vector<int> fds;
  auto payload = app::encode(sample.batch, fds);
  payload.resize(payload.size() - (4 + 4 + 4 + 4 * 8));  // the trailer: a count and session a's entry
  auto frame = frame_of(upgrade_message::sessions, payload, fds);
  auto got = app::decode_sessions(frame);
  REQUIRE(got);
  REQUIRE(got->size() == 3);
  CHECK((*got)[0].sockmap_pair == -1);
  close_all(*got);
}

TEST_CASE("upgrade_messages: a sockmap entry for a session without an upstream is refused") {
  sample_batch sample;
  std::vector<int> fds;
  auto payload = app::encode(sample.batch, fds);
  // Session a's entry names index 0; make it name b, which has no upstream leg.
  const auto at = payload.size() - (4 + 4 * 8) - 4;
  const std::uint32_t index = 1;
  std::memcpy(payload.data() + at, &index, sizeof index);
  auto frame = frame_of(upgrade_message::sessions, payload, fds);
  CHECK_FALSE(app::decode_sessions(frame));
}

TEST_CASE("upgrade_messages: an empty batch round-trips") {
  const auto [frame, got] =
      round_trip(upgrade_message::sessions, std::vector<handed_session>{}, 0, decode_sessions);
  REQUIRE(got);
  CHECK(got->empty());
}

TEST_CASE("upgrade_messages: the end round-trips with its VRRP states, reload flag and counters") {
  handed_end end;
  end.vrrp = {{"vi_1", vrrp::state::master}, {"vi_2", vrrp::state::backup},
              {"vi_3", vrrp::state::fault}, {"vi_4", vrrp::state::init}};
  end.counters = std::string("cplb_sessions_total 12\n\0binary\xff", 31);
  for (const bool reload : {false, true}) {
    end.reload_requested = reload;
    const auto got = app::decode_end(payload_frame(app::encode(end)));
    REQUIRE(got);
    REQUIRE(got->vrrp.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(got->vrrp[i].name == end.vrrp[i].name);
      CHECK(got->vrrp[i].current == end.vrrp[i].current);
    }
    CHECK(got->reload_requested == reload);
    CHECK(got->counters == end.counters);
  }
}

TEST_CASE("upgrade_messages: a text round-trips; a truncated or padded one does not") {
  for (const std::string& text : {std::string(), std::string("12345"), std::string("config: bad\0x", 13)}) {
    const auto frame = payload_frame(app::encode_text(text));
    const auto got = app::decode_text(frame);
    REQUIRE(got);
    CHECK(*got == text);
    check_truncated_and_padded_refused(frame.payload, 'x',
                                       [](const upgrade_frame& f) { return app::decode_text(f); });
  }
}

TEST_CASE("upgrade_messages: every truncation of a state is refused and leaks no descriptor") {
  sample_state sample;
  std::vector<int> fds;
  // An older process sends no sockmap maps (three descriptor indexes), and before that no
  // anycast device (one).
  check_truncations_refused(upgrade_message::state, app::encode(sample.state, fds), fds,
                            decode_state, {3 * sizeof(std::uint32_t), 4 * sizeof(std::uint32_t)});
}

TEST_CASE("upgrade_messages: every truncation of a batch is refused and leaks no descriptor") {
  sample_batch sample;
  std::vector<int> fds;
  // An older process sends no sockmap trailer: its count and session a's entry.
  check_truncations_refused(upgrade_message::sessions, app::encode(sample.batch, fds), fds,
                            decode_sessions, {4 + 4 + 4 + 4 * 8});
}

TEST_CASE("upgrade_messages: every truncation of an end is refused") {
  handed_end end;
  end.vrrp = {{"vi_1", vrrp::state::master}, {"vi_2", vrrp::state::backup}};
  end.reload_requested = true;
  end.counters = "x 1\n";
  check_truncated_and_padded_refused(app::encode(end), '\0',
                                     [](const upgrade_frame& f) { return app::decode_end(f); });
}

TEST_CASE("upgrade_messages: a huge count is refused, not allocated") {
  test_pipe p;
  const int before = open_fd_count();
  {
    SECTION("listeners") {
      payload_writer w;
      w.u32(1).u32(1).u32(0xffffffffu).text("127.0.0.1:1").u32(1).u32(0);
      auto frame = frame_of(upgrade_message::state, w.out, {p.read_end.get()});
      CHECK_FALSE(app::decode_state(frame));
    }
    SECTION("a listener's descriptors") {
      payload_writer w;
      w.u32(1).u32(1).u32(1).text("127.0.0.1:1").u32(0x40000000u).u32(0);
      auto frame = frame_of(upgrade_message::state, w.out, {p.read_end.get()});
      CHECK_FALSE(app::decode_state(frame));
    }
    SECTION("health entries") {
      payload_writer w;
      w.u32(1).u32(1).u32(0).text("127.0.0.1:9000").u32(0).u32(0x7fffffffu);
      write_health(w, "s0", 1, 0);
      auto frame = frame_of(upgrade_message::state, w.out, {p.read_end.get()});
      CHECK_FALSE(app::decode_state(frame));
    }
    SECTION("sessions") {
      payload_writer w;
      w.u32(0xffffffffu);
      write_session(w, 0, no_fd);
      auto frame = frame_of(upgrade_message::sessions, w.out, {p.read_end.get()});
      CHECK_FALSE(app::decode_sessions(frame));
    }
    SECTION("VRRP instances") {
      payload_writer w;
      w.u32(0xffffffffu).text("vi_1").u8(2).u8(0).text("");
      CHECK_FALSE(app::decode_end(payload_frame(w.out)));
    }
    SECTION("a text's length") {
      payload_writer w;
      w.u32(0xfffffff0u).text("short");
      CHECK_FALSE(app::decode_text(payload_frame(w.out)));
    }
  }
  CHECK(open_fd_count() == before);
}

TEST_CASE("upgrade_messages: out-of-range descriptor indices") {
  test_pipe p;
  const int before = open_fd_count();
  {
    SECTION("a listener's socket not in the frame is skipped") {
      payload_writer w;
      w.u32(1).u32(2).u32(1).text("127.0.0.1:6443").u32(3).u32(0).u32(7).u32(1);
      w.text("127.0.0.1:9000").u32(2).u32(0);
      auto frame = frame_of(upgrade_message::state, w.out, {p.read_end.get(), p.write_end.get()});
      auto got = app::decode_state(frame);
      REQUIRE(got);
      REQUIRE(got->listeners.size() == 1);
      REQUIRE(got->listeners[0].fds.size() == 2);
      CHECK(same_file(got->listeners[0].fds[0], p.read_end.get()));
      CHECK(same_file(got->listeners[0].fds[1], p.write_end.get()));
      CHECK(got->admin_fd == -1);  // index 2 is past the frame's two
      close_all(*got);
    }
    SECTION("a descriptor named twice is taken once") {
      payload_writer w;
      w.u32(1).u32(2).u32(1).text("127.0.0.1:6443").u32(2).u32(0).u32(0);
      w.text("127.0.0.1:9000").u32(0).u32(0);
      auto frame = frame_of(upgrade_message::state, w.out, {p.read_end.get()});
      auto got = app::decode_state(frame);
      REQUIRE(got);
      REQUIRE(got->listeners.size() == 1);
      CHECK(got->listeners[0].fds.size() == 1);
      CHECK(got->admin_fd == -1);
      close_all(*got);
    }
    SECTION("a session whose client descriptor is not in the frame is refused") {
      payload_writer w;
      w.u32(2);
      write_session(w, 0, 1);
      write_session(w, 5, no_fd);
      auto frame = frame_of(upgrade_message::sessions, w.out, {p.read_end.get(), p.write_end.get()});
      CHECK_FALSE(app::decode_sessions(frame));
    }
    SECTION("a session whose upstream descriptor is not in the frame has none") {
      payload_writer w;
      w.u32(1);
      write_session(w, 0, 9);
      auto frame = frame_of(upgrade_message::sessions, w.out, {p.read_end.get()});
      auto got = app::decode_sessions(frame);
      REQUIRE(got);
      REQUIRE(got->size() == 1);
      CHECK(same_file((*got)[0].client_fd, p.read_end.get()));
      CHECK((*got)[0].upstream_fd == -1);
      close_all(*got);
    }
    SECTION("two sessions on one client descriptor: the second is refused") {
      payload_writer w;
      w.u32(2);
      write_session(w, 0, no_fd);
      write_session(w, 0, no_fd);
      auto frame = frame_of(upgrade_message::sessions, w.out, {p.read_end.get()});
      CHECK_FALSE(app::decode_sessions(frame));
    }
    SECTION("a session with a negative age is refused") {
      payload_writer w;
      w.u32(1);
      write_session(w, 0, no_fd, -5);
      auto frame = frame_of(upgrade_message::sessions, w.out, {p.read_end.get()});
      CHECK_FALSE(app::decode_sessions(frame));
    }
  }
  CHECK(open_fd_count() == before);
}

TEST_CASE("upgrade_messages: a health state or reason this build does not know is skipped") {
  payload_writer w;
  w.u32(1).u32(1).u32(0).text("127.0.0.1:9000").u32(no_fd).u32(4);
  write_health(w, "s0", static_cast<std::uint8_t>(server_state::down), static_cast<std::uint8_t>(down_reason::refused));
  write_health(w, "s1", 4, 0);    // one past server_state::down
  write_health(w, "s2", 1, 9);    // one past down_reason::protocol_error
  write_health(w, "s3", 255, 255);
  auto frame = frame_of(upgrade_message::state, w.out, {});
  const auto got = app::decode_state(frame);
  REQUIRE(got);
  REQUIRE(got->health.size() == 1);
  CHECK(got->health[0].server == "s0");
  CHECK(got->health[0].state == server_state::down);
  CHECK(got->health[0].reason == down_reason::refused);
  CHECK(got->health[0].passes == 1);
  CHECK(got->health[0].failures == 2);
  CHECK(got->health[0].reachable);
}

TEST_CASE("upgrade_messages: a VRRP state this build does not know refuses the end") {
  payload_writer w;
  w.u32(2).text("vi_1").u8(static_cast<std::uint8_t>(vrrp::state::master));
  w.text("vi_2").u8(static_cast<std::uint8_t>(vrrp::state::fault) + 1);
  w.u8(0).text("");
  upgrade_frame frame;
  frame.payload = w.out;
  CHECK_FALSE(app::decode_end(frame));
  // The same with a known state is accepted: what refused it was the state alone.
  frame.payload[4 + 4 + 4 + 1 + 4 + 4] = static_cast<char>(vrrp::state::backup);
  const auto got = app::decode_end(frame);
  REQUIRE(got);
  REQUIRE(got->vrrp.size() == 2);
  CHECK(got->vrrp[1].current == vrrp::state::backup);
}

TEST_CASE("upgrade_messages: a listener with a malformed address refuses the state and leaks nothing") {
  test_pipe p, q;
  const int before = open_fd_count();
  {
    payload_writer w;
    w.u32(1).u32(2).u32(2);
    w.text("127.0.0.1:6443").u32(1).u32(0);
    w.text("not an address").u32(1).u32(1);
    w.text("127.0.0.1:9000").u32(2).u32(0);
    auto frame = frame_of(upgrade_message::state, w.out, {p.read_end.get(), q.read_end.get(), q.write_end.get()});
    CHECK_FALSE(app::decode_state(frame));
  }
  CHECK(open_fd_count() == before);
}
