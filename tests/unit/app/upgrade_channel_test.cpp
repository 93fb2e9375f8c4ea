#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "upgrade_channel.hpp"
#include "upgrade_test_support.hpp"

using cplb::app::upgrade_channel;
using cplb::app::upgrade_frame;
using cplb::app::upgrade_message;
using namespace cplb::app::test;
using namespace std::chrono_literals;

namespace {

/// Generous for what must arrive (it returns as soon as it does); short for what must time out.
constexpr std::chrono::milliseconds arrives = 10s;
constexpr std::chrono::milliseconds times_out = 20ms;

/// The two ends of a channel: the old process's and the new one's.
struct channel_pair {
  std::pair<int, int> fds = stream_pair();
  upgrade_channel old_side{fds.first};
  upgrade_channel new_side{fds.second};
};

/// The frame header as the channel writes it (src/app/upgrade_channel.cpp).
struct raw_header {
  std::uint32_t magic = 0x43504c42;
  std::uint32_t type = 1;
  std::uint32_t payload_size = 0;
  std::uint32_t fd_count = 0;
};

/// Writes `bytes` to `fd` as they are, with `fds` attached, bypassing the channel.
void send_raw(int fd, const void* bytes, std::size_t size, const std::vector<int>& fds = {}) {
  iovec iov{const_cast<void*>(bytes), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  REQUIRE(::sendmsg(fd, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(size));
}

/// Writes the first `size` bytes of a frame header to `fd`, bypassing the channel.
void send_header_part(int fd, std::size_t size) {
  const raw_header h;
  send_raw(fd, &h, size);
}

/// Writes a whole header for 100 bytes of payload and the first 10 of them to `fd`.
void send_payload_part(int fd) {
  raw_header h;
  h.payload_size = 100;
  send_raw(fd, &h, sizeof h);
  send_raw(fd, "0123456789", 10);
}

/// Checks that `side` receives no frame within `timeout`, and says `why`.
void check_receive_fails(upgrade_channel& side, std::chrono::milliseconds timeout,
                         const std::string& why) {
  upgrade_frame f;
  std::string error;
  CHECK_FALSE(side.receive(f, timeout, error));
  CHECK(error == why);
}

/// A binary payload of `size` bytes that shows a byte out of place.
std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  return s;
}

}  // namespace

TEST_CASE("upgrade_channel: a frame arrives with its type, payload and working descriptors") {
  channel_pair c;
  test_pipe p;
  auto e = make_eventfd();
  const std::string payload("state\0with\xff" "binary", 17);
  std::string error;
  REQUIRE(c.old_side.send(upgrade_message::state, payload, {p.write_end.get(), e.get()}, arrives, error));

  upgrade_frame f;
  REQUIRE(c.new_side.receive(f, arrives, error));
  CHECK(f.type == upgrade_message::state);
  CHECK(f.payload == payload);
  REQUIRE(f.fds.size() == 2);
  // Copies: new numbers, the same open files.
  CHECK(f.fds[0] != p.write_end.get());
  CHECK(f.fds[1] != e.get());
  REQUIRE(::write(f.fds[0], "xyz", 3) == 3);
  char got[3];
  REQUIRE(::read(p.read_end.get(), got, 3) == 3);
  CHECK(std::string(got, 3) == "xyz");
  eventfd_add(e.get(), 42);
  CHECK(eventfd_take(f.fds[1]) == 42);
  // Received close-on-exec (MSG_CMSG_CLOEXEC): none leaks into a process started later.
  CHECK((::fcntl(f.fds[0], F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((::fcntl(f.fds[1], F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("upgrade_channel: frames back to back arrive in order, one with 240 descriptors") {
  channel_pair c;
  std::vector<unique_fd> events;
  std::vector<int> numbers;
  for (std::size_t i = 0; i < upgrade_channel::max_fds; ++i) {
    events.push_back(make_eventfd());
    numbers.push_back(events.back().get());
  }
  test_pipe p;
  std::string error;
  REQUIRE(c.old_side.send(upgrade_message::hello, "first", {}, arrives, error));
  REQUIRE(c.old_side.send(upgrade_message::sessions, "many", numbers, arrives, error));
  REQUIRE(c.old_side.send(upgrade_message::done, "", {p.write_end.get()}, arrives, error));
  REQUIRE(c.old_side.send(upgrade_message::confirm, "", {}, arrives, error));

  upgrade_frame f;
  REQUIRE(c.new_side.receive(f, arrives, error));
  CHECK(f.type == upgrade_message::hello);
  CHECK(f.payload == "first");
  CHECK(f.fds.empty());

  REQUIRE(c.new_side.receive(f, arrives, error));
  CHECK(f.type == upgrade_message::sessions);
  CHECK(f.payload == "many");
  REQUIRE(f.fds.size() == upgrade_channel::max_fds);
  // Each copy is the descriptor in the same place, in order.
  for (std::size_t i = 0; i < f.fds.size(); ++i) eventfd_add(f.fds[i], i + 1);
  std::size_t in_place = 0;
  for (std::size_t i = 0; i < events.size(); ++i) in_place += eventfd_take(events[i].get()) == i + 1;
  CHECK(in_place == upgrade_channel::max_fds);

  REQUIRE(c.new_side.receive(f, arrives, error));
  CHECK(f.type == upgrade_message::done);
  CHECK(f.payload.empty());
  REQUIRE(f.fds.size() == 1);
  REQUIRE(::write(f.fds[0], "!", 1) == 1);
  char byte = 0;
  CHECK(::read(p.read_end.get(), &byte, 1) == 1);
  CHECK(byte == '!');

  REQUIRE(c.new_side.receive(f, arrives, error));
  CHECK(f.type == upgrade_message::confirm);
  CHECK(f.payload.empty());
  CHECK(f.fds.empty());

  // Nothing more: the next receive waits, then times out.
  CHECK_FALSE(c.new_side.receive(f, times_out, error));
  CHECK(error == "timed out");
}

TEST_CASE("upgrade_channel: a payload of several MiB arrives whole while the sender waits for room") {
  channel_pair c;
  const auto payload = pattern(12u << 20);  // far more than the socket buffers hold
  test_pipe p;
  bool sent = false;
  std::string send_error;
  std::thread sender([&] {
    sent = c.old_side.send(upgrade_message::sessions, payload, {p.write_end.get()}, arrives, send_error);
  });
  upgrade_frame f;
  std::string error;
  const bool received = c.new_side.receive(f, arrives, error);
  sender.join();
  CHECK(sent);
  CHECK(send_error.empty());
  REQUIRE(received);
  CHECK(f.type == upgrade_message::sessions);
  CHECK(f.payload.size() == payload.size());
  CHECK((f.payload == payload));  // not printed: megabytes
  CHECK(f.fds.size() == 1);
}

TEST_CASE("upgrade_channel: no frame within the timeout gives false, timed out") {
  channel_pair c;
  std::string error;
  SECTION("nothing sent") { check_receive_fails(c.new_side, times_out, "timed out"); }
  SECTION("half a header") {
    send_header_part(c.fds.first, sizeof(raw_header) / 2);
    check_receive_fails(c.new_side, times_out, "timed out");
  }
  SECTION("a header and part of its payload") {
    send_payload_part(c.fds.first);
    check_receive_fails(c.new_side, times_out, "timed out");
  }
  SECTION("a send the other side does not read") {
    const auto payload = pattern(8u << 20);
    CHECK_FALSE(c.old_side.send(upgrade_message::sessions, payload, {}, times_out, error));
    CHECK(error == "timed out");
  }
}

TEST_CASE("upgrade_channel: the other side closing gives false") {
  channel_pair c;
  std::string error;
  SECTION("before a frame") {
    ::shutdown(c.fds.first, SHUT_RDWR);
    check_receive_fails(c.new_side, arrives, "the other process closed the channel");
  }
  SECTION("within a header") {
    send_header_part(c.fds.first, 5);
    ::shutdown(c.fds.first, SHUT_RDWR);
    check_receive_fails(c.new_side, arrives, "the other process closed the channel");
  }
  SECTION("within a payload") {
    send_payload_part(c.fds.first);
    ::shutdown(c.fds.first, SHUT_RDWR);
    check_receive_fails(c.new_side, arrives, "the other process closed the channel");
  }
  SECTION("a send to a closed side fails, without SIGPIPE") {
    ::shutdown(c.fds.second, SHUT_RDWR);
    CHECK_FALSE(c.old_side.send(upgrade_message::hello, "x", {}, arrives, error));
    CHECK(error.rfind("send: ", 0) == 0);
  }
}

TEST_CASE("upgrade_channel: a malformed header gives false and closes what came with it") {
  channel_pair c;
  test_pipe p;
  raw_header h;
  std::vector<int> fds;
  SECTION("bad magic") { h.magic = 0x12345678; }
  SECTION("bad magic, with descriptors") {
    h.magic = 0;
    h.fd_count = 2;
    fds = {p.read_end.get(), p.write_end.get()};
  }
  SECTION("more descriptors announced than came") { h.fd_count = 3; fds = {p.read_end.get()}; }
  SECTION("fewer descriptors announced than came") { fds = {p.read_end.get()}; }
  SECTION("a payload over the bound") { h.payload_size = 0xffffffffu; }
  const int before = open_fd_count();
  {
    send_raw(c.fds.first, &h, sizeof h, fds);
    upgrade_frame f;
    std::string error;
    CHECK_FALSE(c.new_side.receive(f, arrives, error));
    CHECK(error == "malformed message from the other process");
  }
  CHECK(open_fd_count() == before);
}

TEST_CASE("upgrade_channel: more descriptors than the receiver takes fail the frame (MSG_CTRUNC), leaking none") {
  channel_pair c;
  std::vector<unique_fd> events;
  std::vector<int> numbers;
  for (std::size_t i = 0; i < upgrade_channel::max_fds + 1; ++i) {
    events.push_back(make_eventfd());
    numbers.push_back(events.back().get());
  }
  std::string error;
  REQUIRE(c.old_side.send(upgrade_message::sessions, "", numbers, arrives, error));
  const int before = open_fd_count();
  {
    upgrade_frame f;
    CHECK_FALSE(c.new_side.receive(f, arrives, error));
    CHECK(error.find("MSG_CTRUNC") != std::string::npos);
  }
  CHECK(open_fd_count() == before);
}

TEST_CASE("upgrade_frame: received descriptors are closed with the frame, and move with it") {
  channel_pair c;
  test_pipe p;
  auto e = make_eventfd();
  std::string error;
  const int before = open_fd_count();
  {
    REQUIRE(c.old_side.send(upgrade_message::state, "", {p.read_end.get(), p.write_end.get(), e.get()},
                            arrives, error));
    upgrade_frame f;
    REQUIRE(c.new_side.receive(f, arrives, error));
    REQUIRE(f.fds.size() == 3);
    CHECK(open_fd_count() == before + 3);

    SECTION("destroyed") {}
    SECTION("moved out: the moved-from frame closes nothing") {
      upgrade_frame g(std::move(f));
      CHECK(f.fds.empty());
      CHECK(open_fd_count() == before + 3);
      eventfd_add(e.get(), 5);
      CHECK(eventfd_take(g.fds[2]) == 5);
    }
    SECTION("assigned over: the old descriptors are closed") {
      REQUIRE(c.old_side.send(upgrade_message::done, "", {e.get()}, arrives, error));
      upgrade_frame g;
      REQUIRE(c.new_side.receive(g, arrives, error));
      CHECK(open_fd_count() == before + 4);
      f = std::move(g);
      CHECK(open_fd_count() == before + 1);
      CHECK(f.type == upgrade_message::done);
    }
    SECTION("received into again: the old descriptors are closed") {
      REQUIRE(c.old_side.send(upgrade_message::done, "", {}, arrives, error));
      REQUIRE(c.new_side.receive(f, arrives, error));
      CHECK(f.fds.empty());
      CHECK(open_fd_count() == before);
    }
  }
  CHECK(open_fd_count() == before);
}
