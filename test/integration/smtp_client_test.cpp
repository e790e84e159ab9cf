// The SMTP client against a real Postfix started per test on a free loopback
// port: a callout dialogue (greeting, EHLO, MAIL FROM:<>, RCPT accepted and
// refused, QUIT) and a proxied transaction (XFORWARD, DATA, body) that ends
// in a delivered message. The faults a real Postfix does not produce (a
// server that stalls mid-reply, closes mid-reply, talks garbage, pipelines
// replies, never reads) come from small stand-in servers in this file.
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <system_error>

#include "common/smtp/client.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/run_coroutine.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using mailsan::smtp::Client;
using mailsan::smtp::errc;
using mailsan::smtp::Result;
using mailsan::test::PostfixInstance;
using mailsan::test::PostfixSettings;
using mailsan::test::run_test;
using mailsan::test::sleep_for;
using Clock = std::chrono::steady_clock;

// Results are awaited into locals before REQUIRE/CHECK: Catch2's macros
// repeat their expression in unevaluated spots, and g++ 12 still runs a
// co_await found there, so a connect() inside REQUIRE_FALSE connects thrice.
namespace {

tcp::endpoint loopback(unsigned short port) {
  return {asio::ip::make_address_v4("127.0.0.1"), port};
}

// Postfix with relaying decided by the destination alone: 127.0.0.1 is in
// its mynetworks, and a callout must see what an outside client would.
PostfixSettings callout_target(const std::string& name) {
  PostfixSettings settings;
  settings.name = name;
  settings.relay_restrictions = "reject_unauth_destination";
  settings.extra_main_cf = "smtpd_authorized_xforward_hosts = 127.0.0.1/32\n";
  return settings;
}

bool has_line(const Result& r, const std::string& line) {
  for (const std::string& l : r.reply.lines)
    if (l == line || l.rfind(line + " ", 0) == 0) return true;
  return false;
}

// One connection on 127.0.0.1 and a free port; the test's own coroutine
// script decides what it says.
struct StandInServer {
  explicit StandInServer(asio::io_context& io) : acceptor(io, loopback(0)) {}
  tcp::endpoint endpoint() const { return acceptor.local_endpoint(); }

  tcp::acceptor acceptor;
  std::optional<tcp::socket> peer;  // stays open until the test ends unless closed
  std::string received;             // every byte the client sent
};

asio::awaitable<void> accept_and_send(StandInServer& server, std::string bytes) {
  server.peer.emplace(co_await server.acceptor.async_accept(asio::use_awaitable));
  co_await asio::async_write(*server.peer, asio::buffer(bytes), asio::use_awaitable);
}

// Greets, then never says another word and never reads.
asio::awaitable<void> greet_and_stall(StandInServer& server, std::string greeting) {
  co_await accept_and_send(server, std::move(greeting));
}

// Sends part of a reply and closes the connection.
asio::awaitable<void> close_mid_reply(StandInServer& server) {
  co_await accept_and_send(server, "220-mx.example.test ESMTP\r\n220-still");
  server.peer->close();
}

// Greets, then answers every line it receives with `answer`, recording
// what arrived, until the client goes away.
asio::awaitable<void> answer_every_line(StandInServer& server, std::string answer) {
  co_await accept_and_send(server, "220 mx.example.test ESMTP\r\n");
  std::array<char, 1024> buffer;
  std::size_t answered = 0;
  for (;;) {
    auto [ec, n] = co_await server.peer->async_read_some(asio::buffer(buffer),
                                                         asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    server.received.append(buffer.data(), n);
    for (auto end = server.received.find('\n', answered); end != std::string::npos;
         end = server.received.find('\n', answered)) {
      answered = end + 1;
      co_await asio::async_write(*server.peer, asio::buffer(answer), asio::use_awaitable);
    }
  }
}

}  // namespace

TEST_CASE("an SMTP client callout dialogue with a real Postfix gets the replies Postfix gives",
          "[smtp][client]") {
  PostfixInstance mx(callout_target("smtp-callout"));
  asio::io_context io;
  Client client(io.get_executor());
  run_test(io, [&]() -> asio::awaitable<void> {
    const auto target = loopback(mx.smtp_port());
    const std::error_code connected = co_await client.connect(target, 5s);
    REQUIRE_FALSE(connected);
    REQUIRE(client.is_open());

    Result r = co_await client.read_reply(5s);
    REQUIRE_FALSE(r.ec);
    CHECK(r.reply.code == 220);
    CHECK(r.reply.text().find("mx1.test") != std::string::npos);

    r = co_await client.command("EHLO callout.example.net", 5s);
    REQUIRE_FALSE(r.ec);
    CHECK(r.reply.code == 250);
    CHECK(r.reply.lines.size() > 3);
    CHECK(r.reply.lines.front().rfind("mx1.test", 0) == 0);
    CHECK(has_line(r, "PIPELINING"));
    CHECK(has_line(r, "SIZE"));
    CHECK(has_line(r, "ENHANCEDSTATUSCODES"));
    CHECK(has_line(r, "8BITMIME"));

    r = co_await client.command("MAIL FROM:<>", 5s);
    REQUIRE_FALSE(r.ec);
    CHECK(r.reply.code == 250);
    CHECK(r.reply.enhanced_status() == "2.1.0");

    r = co_await client.command("RCPT TO:<x@example.test>", 5s);
    REQUIRE_FALSE(r.ec);
    CHECK(r.reply.code == 250);
    CHECK(r.reply.positive());

    // 554 5.7.1 with Postfix's defaults; only the class is its business.
    r = co_await client.command("RCPT TO:<x@elsewhere.invalid>", 5s);
    REQUIRE_FALSE(r.ec);
    INFO(r.reply.code << " " << r.reply.text());
    CHECK((r.reply.transient() || r.reply.permanent()));
    CHECK(r.reply.text().find("Relay access denied") != std::string::npos);
    CHECK(r.reply.enhanced_status().substr(0, 1) == std::to_string(r.reply.code / 100));

    r = co_await client.command("QUIT", 5s);
    REQUIRE_FALSE(r.ec);
    CHECK(r.reply.code == 221);

    // Postfix has closed its side: the next read finds the connection closed.
    r = co_await client.read_reply(5s);
    CHECK(r.ec == errc::closed);
    CHECK_FALSE(client.is_open());
  }());
}

TEST_CASE(
    "a transaction the SMTP client replays to a real Postfix with XFORWARD and DATA is delivered",
    "[smtp][client]") {
  PostfixInstance mx(callout_target("smtp-proxy"));
  asio::io_context io;
  Client client(io.get_executor());
  // Already dot-stuffed: the line ".leading dot" travels as "..leading dot".
  const std::string body =
      "From: <alice@sender.test>\r\n"
      "To: <x@example.test>\r\n"
      "Subject: smtp client replay\r\n"
      "\r\n"
      "first line\r\n"
      "..leading dot\r\n"
      "last line\r\n"
      ".\r\n";
  run_test(io, [&]() -> asio::awaitable<void> {
    const std::error_code connected = co_await client.connect(loopback(mx.smtp_port()), 5s);
    REQUIRE_FALSE(connected);
    Result r = co_await client.read_reply(5s);
    REQUIRE(r.reply.code == 220);
    r = co_await client.command("EHLO proxy.example.net", 5s);
    REQUIRE(r.reply.code == 250);
    CHECK(has_line(r, "XFORWARD"));
    r = co_await client.command(
        "XFORWARD NAME=client.example.net ADDR=192.0.2.25 PORT=49152 PROTO=ESMTP "
        "HELO=client.example.net SOURCE=REMOTE",
        5s);
    CHECK(r.reply.code == 250);
    r = co_await client.command("MAIL FROM:<alice@sender.test>", 5s);
    CHECK(r.reply.code == 250);
    r = co_await client.command("RCPT TO:<x@example.test>", 5s);
    CHECK(r.reply.code == 250);
    r = co_await client.command("DATA", 5s);
    REQUIRE(r.reply.code == 354);
    const std::error_code written = co_await client.write(body, 5s);
    REQUIRE_FALSE(written);
    r = co_await client.read_reply(10s);
    REQUIRE_FALSE(r.ec);
    CHECK(r.reply.code == 250);
    CHECK(r.reply.text().find("queued as") != std::string::npos);
    r = co_await client.command("QUIT", 5s);
    CHECK(r.reply.code == 221);
    client.close();
  }());

  const auto delivered = mx.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  const auto& message = delivered[0];
  CHECK(message.recipient == "x@example.test");
  CHECK(message.sender == "alice@sender.test");
  CHECK(message.headers("Subject") == std::vector<std::string>{"smtp client replay"});
  CHECK(message.content.find("\n.leading dot\n") != std::string::npos);
  CHECK(message.content.find("\nlast line\n") != std::string::npos);
  // Postfix took the XFORWARD attributes as the original client.
  INFO(mx.maillog());
  CHECK(mx.maillog().find("orig_client=client.example.net[192.0.2.25]") != std::string::npos);
}

TEST_CASE("an SMTP server that stalls in the middle of a reply times out within the deadline",
          "[smtp][client]") {
  asio::io_context io;
  StandInServer server(io);
  asio::co_spawn(io, greet_and_stall(server, "220-mx.example.test ESMTP\r\n"), asio::detached);
  Client client(io.get_executor());
  run_test(io, [&]() -> asio::awaitable<void> {
    const std::error_code connected = co_await client.connect(server.endpoint(), 5s);
    REQUIRE_FALSE(connected);
    const auto start = Clock::now();
    Result r = co_await client.read_reply(300ms);
    const auto took = Clock::now() - start;
    CHECK(r.ec == errc::timeout);
    CHECK(took >= 300ms);
    CHECK(took < 2000ms);  // the deadline ends it, not a later event (a loaded machine adds some)
    // The connection is unusable from now on, and says so at once.
    CHECK_FALSE(client.is_open());
    r = co_await client.command("QUIT", 5s);
    CHECK(r.ec == errc::closed);
  }());
}

TEST_CASE("an SMTP server that closes the connection in the middle of a reply gives closed",
          "[smtp][client]") {
  asio::io_context io;
  StandInServer server(io);
  asio::co_spawn(io, close_mid_reply(server), asio::detached);
  Client client(io.get_executor());
  run_test(io, [&]() -> asio::awaitable<void> {
    const std::error_code connected = co_await client.connect(server.endpoint(), 5s);
    REQUIRE_FALSE(connected);
    Result r = co_await client.read_reply(5s);
    CHECK(r.ec == errc::closed);
    CHECK(r.reply.code == 0);
    CHECK_FALSE(client.is_open());
  }());
}

TEST_CASE(
    "a server that answers the SMTP client with something other than SMTP gives malformed_reply",
    "[smtp][client]") {
  asio::io_context io;
  StandInServer server(io);
  asio::co_spawn(io, greet_and_stall(server, "HTTP/1.1 400 Bad Request\r\n\r\n"), asio::detached);
  Client client(io.get_executor());
  run_test(io, [&]() -> asio::awaitable<void> {
    const std::error_code connected = co_await client.connect(server.endpoint(), 5s);
    REQUIRE_FALSE(connected);
    Result r = co_await client.read_reply(5s);
    CHECK(r.ec == errc::malformed_reply);
    CHECK(client.malformed_reason() == "bad reply code");
    CHECK_FALSE(client.is_open());
  }());
}

TEST_CASE("an SMTP connect to a port nobody listens on fails at once", "[smtp][client]") {
  asio::io_context io;
  tcp::endpoint nobody;
  {
    tcp::acceptor probe(io, loopback(0));
    nobody = probe.local_endpoint();
  }
  Client client(io.get_executor());
  run_test(io, [&]() -> asio::awaitable<void> {
    const auto start = Clock::now();
    const std::error_code ec = co_await client.connect(nobody, 5s);
    CHECK(ec == std::errc::connection_refused);
    CHECK(Clock::now() - start < 1s);
    CHECK_FALSE(client.is_open());
  }());
}

TEST_CASE("an SMTP command with CR or LF in it is refused and nothing of it is sent",
          "[smtp][client]") {
  asio::io_context io;
  StandInServer server(io);
  asio::co_spawn(io, answer_every_line(server, "250 2.0.0 Ok\r\n"), asio::detached);
  Client client(io.get_executor());
  run_test(io, [&]() -> asio::awaitable<void> {
    const asio::ip::address from = asio::ip::make_address("127.0.0.1");
    const std::error_code connected = co_await client.connect(server.endpoint(), 5s, &from);
    REQUIRE_FALSE(connected);
    Result r = co_await client.read_reply(5s);
    REQUIRE(r.reply.code == 220);

    r = co_await client.command("RCPT TO:<a@example.test>\r\nDATA", 5s);
    CHECK(r.ec == errc::bad_command);
    r = co_await client.command("MAIL FROM:<a@example.test>\nRSET", 5s);
    CHECK(r.ec == errc::bad_command);
    r = co_await client.command("NOOP\r", 5s);
    CHECK(r.ec == errc::bad_command);

    // The connection goes on as if nothing had been tried.
    REQUIRE(client.is_open());
    r = co_await client.command("NOOP", 5s);
    CHECK_FALSE(r.ec);
    CHECK(r.reply.code == 250);
    CHECK(server.received == "NOOP\r\n");
    CHECK(server.peer->remote_endpoint().address() == from);
  }());
}

TEST_CASE("SMTP replies the server sent ahead stay buffered for the next read", "[smtp][client]") {
  asio::io_context io;
  StandInServer server(io);
  asio::co_spawn(io,
                 answer_every_line(server, "250 2.1.0 first\r\n250-2.1.5 second\r\n250 end\r\n"),
                 asio::detached);
  Client client(io.get_executor());
  run_test(io, [&]() -> asio::awaitable<void> {
    const std::error_code connected = co_await client.connect(server.endpoint(), 5s);
    REQUIRE_FALSE(connected);
    Result r = co_await client.read_reply(5s);
    REQUIRE(r.reply.code == 220);
    r = co_await client.command("MAIL FROM:<>", 5s);
    CHECK(r.reply.lines == std::vector<std::string>{"2.1.0 first"});
    r = co_await client.read_reply(1s);
    REQUIRE_FALSE(r.ec);
    CHECK(r.reply.lines == std::vector<std::string>{"2.1.5 second", "end"});
    CHECK(server.received == "MAIL FROM:<>\r\n");
  }());
}

TEST_CASE("an SMTP write the server does not read times out within the deadline",
          "[smtp][client]") {
  asio::io_context io;
  StandInServer server(io);
  asio::co_spawn(io, greet_and_stall(server, "220 mx.example.test ESMTP\r\n"), asio::detached);
  Client client(io.get_executor());
  // More than loopback's socket buffers on both sides can hold.
  const std::string body(64 * 1024 * 1024, 'x');
  run_test(io, [&]() -> asio::awaitable<void> {
    const std::error_code connected = co_await client.connect(server.endpoint(), 5s);
    REQUIRE_FALSE(connected);
    const auto start = Clock::now();
    const std::error_code ec = co_await client.write(body, 300ms);
    const auto took = Clock::now() - start;
    CHECK(ec == errc::timeout);
    CHECK(took < 2000ms);  // the deadline ends it, not a later event (a loaded machine adds some)
    CHECK_FALSE(client.is_open());
  }());
}

TEST_CASE("a cancelled SMTP read comes back as operation_canceled, not as an exception",
          "[smtp][client]") {
  asio::io_context io;
  StandInServer server(io);
  asio::co_spawn(io, greet_and_stall(server, "220-mx.example.test ESMTP\r\n"), asio::detached);
  Client client(io.get_executor());
  run_test(io, [&]() -> asio::awaitable<void> {
    const std::error_code connected = co_await client.connect(server.endpoint(), 5s);
    REQUIRE_FALSE(connected);
    asio::cancellation_signal signal;
    std::optional<Result> outcome;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { outcome = co_await client.read_reply(10s); },
        asio::bind_cancellation_slot(signal.slot(), asio::detached));
    co_await sleep_for(50ms);
    const auto start = Clock::now();
    signal.emit(asio::cancellation_type::terminal);
    while (!outcome && Clock::now() - start < 5s) co_await sleep_for(5ms);
    REQUIRE(outcome);
    CHECK(outcome->ec == std::errc::operation_canceled);
    CHECK(Clock::now() - start < 500ms);
    CHECK_FALSE(client.is_open());
  }());
}
