// The spamd client and scanner against a real spamd (Debian's SpamAssassin,
// started by the test on loopback with its own configuration): PING, GTUBE
// and ham with SYMBOLS, PROCESS and CHECK, per-user preferences through
// User:, TELL, a spamd that is down or hangs. Only the server that stalls in
// the middle of a reply is a stand-in: no spamd does that on request.
#include "contentfilter/spamd/spamd_client.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "contentfilter/scan/spamd_scanner.hpp"
#include "test/support/run_coroutine.hpp"
#include "test/support/spamd_server.hpp"

namespace mailsan::test {
namespace {

namespace asio = boost::asio;
using filter::MessageSpool;
using filter::SpamdClient;
using filter::SpamdClientOptions;
using filter::SpamdCommand;
using filter::SpamdResult;
using Clock = std::chrono::steady_clock;

const std::string kHam =
    "From: Alice <alice@remote.test>\r\n"
    "To: Bob <bob@example.test>\r\n"
    "Subject: lunch on Friday\r\n"
    "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <lunch-20261127@remote.test>\r\n"
    "\r\n"
    "Hello Bob,\r\n\r\nshall we meet for lunch on Friday at noon?\r\n\r\nAlice\r\n";

std::string gtube_message() {
  return "From: Alice <alice@remote.test>\r\n"
         "To: Bob <bob@example.test>\r\n"
         "Subject: test\r\n"
         "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
         "Message-ID: <gtube-20261127@remote.test>\r\n"
         "\r\n" +
         std::string(SpamdServer::gtube) + "\r\n";
}

std::unique_ptr<MessageSpool> spool_of(const std::string& text,
                                       std::size_t memory_limit = 1 << 20) {
  auto spool = std::make_unique<MessageSpool>(memory_limit, std::filesystem::temp_directory_path());
  REQUIRE(!spool->append(text));
  return spool;
}

SpamdClientOptions options_for(const std::string& address,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  SpamdClientOptions o;
  o.address = *net::parse_endpoint(address);
  o.timeout = timeout;
  return o;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Accepts, reads the request, sends the first line of a reply and stalls.
class StallingServer {
 public:
  explicit StallingServer(asio::io_context& io)
      : acceptor_(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io, serve(), asio::detached);
  }
  std::string address() const {
    return "inet:127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  int accepted() const { return accepted_; }

 private:
  asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++accepted_;
      auto peer = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
      char buf[4096];
      co_await peer->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      const std::string first_line = "SPAMD/1.1 0 EX_OK\r\n";
      co_await asio::async_write(*peer, asio::buffer(first_line),
                                 asio::as_tuple(asio::use_awaitable));
      held_.push_back(peer);
    }
  }
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> held_;
  int accepted_ = 0;
};

}  // namespace

TEST_CASE("spamd answers PING with PONG over TCP and over its unix socket", "[spamd]") {
  SpamdServer spamd;
  asio::io_context io;
  SpamdClient tcp(io.get_executor(), options_for(spamd.address()));
  SpamdClient local(io.get_executor(), options_for("unix:" + spamd.socket_path().string()));
  SpamdResult over_tcp, over_unix;
  run_test(io, [&]() -> asio::awaitable<void> {
    over_tcp = co_await tcp.ping();
    over_unix = co_await local.ping();
  }());
  INFO(over_tcp.error << " / " << over_unix.error << "\n" << spamd.log());
  CHECK(over_tcp.ok());
  CHECK(over_tcp.response.message == "PONG");
  CHECK(over_unix.ok());
  CHECK(over_unix.response.message == "PONG");
}

TEST_CASE("GTUBE is spam scoring 1000 with GTUBE among its rules, and ham is not spam", "[spamd]") {
  SpamdServer spamd;
  asio::io_context io;
  SpamdClient client(io.get_executor(), options_for(spamd.address()));
  auto gtube = spool_of(gtube_message());
  // The ham goes through a file spool, to stream from the file.
  auto ham = spool_of(kHam, 16);
  REQUIRE(!ham->in_memory());
  SpamdResult symbols, processed, checked, ham_symbols, ham_processed;
  run_test(io, [&]() -> asio::awaitable<void> {
    symbols = co_await client.check(SpamdCommand::symbols, *gtube, "");
    processed = co_await client.check(SpamdCommand::process, *gtube, "");
    checked = co_await client.check(SpamdCommand::check, *gtube, "");
    ham_symbols = co_await client.check(SpamdCommand::symbols, *ham, "");
    ham_processed = co_await client.check(SpamdCommand::process, *ham, "");
  }());
  INFO(spamd.log());
  REQUIRE(symbols.ok());
  CHECK(symbols.response.spam);
  CHECK(symbols.response.score >= 1000);
  CHECK(symbols.response.threshold == 5.0);
  CHECK(has(symbols.response.rules, "GTUBE"));

  REQUIRE(processed.ok());
  CHECK(processed.response.spam);
  CHECK(processed.response.score == symbols.response.score);
  auto head = filter::parse_spamd_processed_head(processed.response.body);
  CHECK(head.rules == symbols.response.rules);

  REQUIRE(checked.ok());
  CHECK(checked.response.spam);
  CHECK(checked.response.score == symbols.response.score);

  REQUIRE(ham_symbols.ok());
  CHECK_FALSE(ham_symbols.response.spam);
  CHECK(ham_symbols.response.score < 5);
  CHECK_FALSE(has(ham_symbols.response.rules, "GTUBE"));
  REQUIRE(ham_processed.ok());
  // The rewritten ham is the message with spamd's headers on top.
  CHECK(ham_processed.response.body.find("X-Spam-Status: No") != std::string::npos);
  CHECK(ham_processed.response.body.find("shall we meet for lunch") != std::string::npos);
}

TEST_CASE("User: selects the per-user preferences of spamd's virtual config dir", "[spamd]") {
  SpamdServer spamd;
  spamd.write_user_prefs("bob", "required_score 2000\nscore GTUBE 500\n");
  asio::io_context io;
  SpamdClient client(io.get_executor(), options_for(spamd.address()));
  auto gtube = spool_of(gtube_message());
  SpamdResult as_bob, as_carol, as_nobody;
  run_test(io, [&]() -> asio::awaitable<void> {
    as_bob = co_await client.check(SpamdCommand::symbols, *gtube, "bob");
    as_carol = co_await client.check(SpamdCommand::symbols, *gtube, "carol");
    as_nobody = co_await client.check(SpamdCommand::symbols, *gtube, "");
  }());
  INFO(spamd.log());
  REQUIRE(as_bob.ok());
  REQUIRE(as_carol.ok());
  REQUIRE(as_nobody.ok());
  CHECK(as_bob.response.threshold == 2000);
  CHECK(as_bob.response.score < 600);
  CHECK_FALSE(as_bob.response.spam);
  CHECK(as_carol.response.threshold == 5);
  CHECK(as_carol.response.score >= 1000);
  CHECK(as_nobody.response.score == as_carol.response.score);
  CHECK(spamd.log().find("for bob:") != std::string::npos);
  CHECK(spamd.log().find("for carol:") != std::string::npos);
}

TEST_CASE("the spamd scanner reports score, rules and, with PROCESS, spamd's own headers",
          "[spamd]") {
  SpamdServer spamd;
  asio::io_context io;
  filter::SpamdConfig symbols_config;
  symbols_config.address = spamd.address();
  filter::SpamdConfig process_config = symbols_config;
  process_config.mode = "process";
  auto symbols = std::make_shared<filter::SpamdScanner>(io.get_executor(), symbols_config);
  auto process = std::make_shared<filter::SpamdScanner>(io.get_executor(), process_config);
  auto gtube = spool_of(gtube_message());
  filter::Envelope envelope;
  envelope.recipients.push_back({"bob@example.test", {}});
  filter::ScanReport by_symbols, by_process;
  const filter::ScanInput input{envelope, *gtube};
  run_test(io, [&]() -> asio::awaitable<void> {
    by_symbols = co_await symbols->scan(input);
    by_process = co_await process->scan(input);
  }());
  INFO(by_symbols.error << " / " << by_process.error << "\n" << spamd.log());
  REQUIRE(by_symbols.completed);
  CHECK(by_symbols.scores_spam);
  CHECK(by_symbols.score >= 1000);
  CHECK(has(by_symbols.rules, "GTUBE"));
  CHECK(by_symbols.headers.empty());
  REQUIRE(by_process.completed);
  CHECK(by_process.score == by_symbols.score);
  CHECK(by_process.rules == by_symbols.rules);
  REQUIRE(by_process.headers.size() == 1);
  CHECK(by_process.headers[0].rfind("X-Spam-Level: ****", 0) == 0);
  CHECK(spamd.log().find("for bob:") != std::string::npos);
}

TEST_CASE("TELL learns a message as spam where spamd allows it, and is refused where not",
          "[spamd]") {
  SpamdServerSettings settings;
  settings.allow_tell = true;
  SpamdServer spamd(settings);
  SpamdServer refusing;
  asio::io_context io;
  SpamdClient client(io.get_executor(), options_for(spamd.address()));
  SpamdClient refused_client(io.get_executor(), options_for(refusing.address()));
  auto gtube = spool_of(gtube_message());
  SpamdResult learned, refused;
  const filter::SpamdTell as_spam;
  run_test(io, [&]() -> asio::awaitable<void> {
    learned = co_await client.tell(as_spam, *gtube, "");
    refused = co_await refused_client.tell(as_spam, *gtube, "");
  }());
  INFO(learned.error << "\n" << spamd.log());
  REQUIRE(learned.ok());
  CHECK(learned.response.did_set == std::vector<std::string>{"local"});
  CHECK_FALSE(refused.ok());
  CHECK(refused.response.code == 69);
  CHECK(refused.error.rfind("spamd said 69 EX_UNAVAILABLE: Service Unavailable: TELL", 0) == 0);
}

TEST_CASE("a stopped spamd is an error at once, and a hanging one runs into the deadline",
          "[spamd]") {
  SpamdServer spamd;
  asio::io_context io;
  SpamdClient client(io.get_executor(), options_for(spamd.address(), std::chrono::seconds(2)));
  auto gtube = spool_of(gtube_message());

  spamd.pause();
  SpamdResult hung;
  auto started = Clock::now();
  run_test(io, [&]() -> asio::awaitable<void> {
    hung = co_await client.check(SpamdCommand::symbols, *gtube, "");
  }());
  auto hung_for = Clock::now() - started;
  CHECK_FALSE(hung.ok());
  CHECK(hung.error == "timeout after 2 s");
  CHECK(hung_for >= std::chrono::milliseconds(1900));
  CHECK(hung_for < std::chrono::seconds(5));
  spamd.resume();

  spamd.stop();
  io.restart();
  SpamdResult down;
  started = Clock::now();
  run_test(io, [&]() -> asio::awaitable<void> {
    down = co_await client.check(SpamdCommand::symbols, *gtube, "");
  }());
  CHECK_FALSE(down.ok());
  CHECK(down.error == "connect to " + spamd.address() + ": Connection refused");
  CHECK(Clock::now() - started < std::chrono::milliseconds(500));

  filter::SpamdConfig config;
  config.address = spamd.address();
  auto scanner = std::make_shared<filter::SpamdScanner>(io.get_executor(), config);
  filter::Envelope envelope;
  envelope.recipients.push_back({"bob@example.test", {}});
  filter::ScanReport report;
  const filter::ScanInput input{envelope, *gtube};
  io.restart();
  run_test(io, [&]() -> asio::awaitable<void> { report = co_await scanner->scan(input); }());
  CHECK_FALSE(report.completed);
  CHECK_FALSE(report.skipped);
  CHECK(report.scores_spam);
  CHECK(report.error == down.error);
  CHECK(scanner->failure_mode() == filter::FailureMode::open);
}

TEST_CASE("a reply that stalls half-way runs into the deadline, or the caller's cancellation",
          "[spamd]") {
  asio::io_context io;
  StallingServer stalling(io);
  SpamdClient quick(io.get_executor(), options_for(stalling.address(), std::chrono::seconds(1)));
  SpamdClient patient(io.get_executor(), options_for(stalling.address(), std::chrono::seconds(60)));
  auto gtube = spool_of(gtube_message());
  SpamdResult timed_out, cancelled;
  Clock::duration cancelled_after{};
  run_test(io, [&]() -> asio::awaitable<void> {
    timed_out = co_await quick.check(SpamdCommand::symbols, *gtube, "");
    // The proxy cancels a scan through the slot bound to it (scan_timeout).
    asio::cancellation_signal signal;
    bool done = false;
    auto started = Clock::now();
    asio::co_spawn(
        io, patient.check(SpamdCommand::symbols, *gtube, ""),
        asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr, SpamdResult r) {
          cancelled = std::move(r);
          cancelled_after = Clock::now() - started;
          done = true;
        }));
    co_await sleep_for(std::chrono::milliseconds(300));
    signal.emit(asio::cancellation_type::terminal);
    while (!done) co_await sleep_for(std::chrono::milliseconds(10));
  }());
  CHECK(stalling.accepted() == 2);
  CHECK(timed_out.error == "timeout after 1 s");
  CHECK(cancelled.error == "cancelled");
  CHECK(cancelled_after < std::chrono::seconds(2));
}

}  // namespace mailsan::test
