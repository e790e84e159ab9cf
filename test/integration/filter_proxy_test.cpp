// mailsan-filter spoken to directly, for what Postfix in front of it never
// sends (bare line feeds, commands out of order) and for faults of the next
// hop. The next hop is a real Postfix, except the one that hangs up in the
// middle of DATA: no real server does that on request, so a stand-in does.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include "test/support/filter_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"

namespace mailsan::test {
namespace {

// A next hop that takes the envelope, says 354 to DATA, reads a little of
// the body and hangs up.
class HangUpServer {
 public:
  HangUpServer() : port_(free_tcp_port()) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0)
      throw std::runtime_error("hang-up server: cannot listen");
    thread_ = std::thread([this] { serve(); });
  }
  ~HangUpServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  unsigned short port() const { return port_; }
  int hung_up() const { return hung_up_; }

 private:
  void serve() {
    for (;;) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      auto say = [c](const char* s) { (void)!::write(c, s, std::strlen(s)); };
      say("220 hangup.test ESMTP\r\n");
      std::string in;
      char buf[4096];
      bool in_data = false;
      for (;;) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
        if (in_data) {
          if (in.size() > 10) break;  // some of the body: hang up now
          continue;
        }
        std::size_t eol;
        while (!in_data && (eol = in.find("\r\n")) != std::string::npos) {
          std::string line = in.substr(0, eol);
          in.erase(0, eol + 2);
          if (line.rfind("EHLO", 0) == 0)
            say("250-hangup.test\r\n250 XFORWARD NAME ADDR HELO\r\n");
          else if (line == "DATA") {
            say("354 go ahead\r\n");
            in_data = true;
          } else
            say("250 ok\r\n");
        }
      }
      ++hung_up_;
      ::close(c);
    }
  }
  unsigned short port_;
  int fd_ = -1;
  std::thread thread_;
  std::atomic<int> hung_up_{0};
};

void start_transaction(SmtpTestClient& c) {
  REQUIRE(c.read_reply().rfind("220 mx1.test ESMTP mailsan-filter", 0) == 0);
  std::string ehlo = c.command("EHLO mx1.test");
  REQUIRE(ehlo.find("250 XFORWARD NAME ADDR PORT PROTO HELO") != std::string::npos);
  REQUIRE(c.command("XFORWARD NAME=client.test ADDR=192.0.2.7 HELO=client.test") == "250 2.0.0 Ok");
  REQUIRE(c.command("MAIL FROM:<alice@remote.test>") == "250 2.1.0 Ok");
  REQUIRE(c.command("RCPT TO:<bob@example.test>") == "250 2.1.5 Ok");
  REQUIRE(c.command("DATA").rfind("354", 0) == 0);
}

}  // namespace

TEST_CASE("a bare LF never ends the data, and a message with one is refused, not relayed",
          "[filter][smuggling]") {
  RedisServer redis;
  PostfixSettings next_settings;
  next_settings.name = "next-hop";
  next_settings.mynetworks = "127.0.0.0/8";
  PostfixInstance next_hop(next_settings);
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = next_hop.smtp_port();
  FilterProcess filter(fs);
  SmtpTestClient c("127.0.0.1", filter.port());
  start_transaction(c);
  // "<LF>.<LF>" and "<CR><LF>.<LF>" are not the end of the data: a smuggled
  // second transaction stays message text.
  c.send(
      "Subject: smuggling\r\n\r\nhello\n.\nMAIL FROM:<evil@remote.test>\r\n"
      "RCPT TO:<bob@example.test>\r\n.\nDATA\r\n");
  c.send("\r\n.\r\n");
  auto reply = c.read_reply();
  INFO(filter.log());
  CHECK(reply == "550 5.6.0 Message rejected: bare LF in message");
  // The connection is still in step: the next command is a command.
  CHECK(c.command("NOOP") == "250 2.0.0 Ok");
  CHECK(c.command("QUIT") == "221 2.0.0 Bye");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(next_hop.delivered().empty());
  CHECK(next_hop.maillog().find("connect from") == std::string::npos);
}

TEST_CASE("commands out of order or malformed get the SMTP reply they deserve", "[filter]") {
  RedisServer redis;
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = 9;
  fs.extra_top = "message_size_limit = 1m\nmax_recipients = 2\n";
  FilterProcess filter(fs);
  SmtpTestClient c("127.0.0.1", filter.port());
  REQUIRE(c.read_reply().rfind("220", 0) == 0);
  CHECK(c.command("MAIL FROM:<a@b.test>") == "503 5.5.1 Error: send HELO/EHLO first");
  CHECK(c.command("EHLO") == "501 5.5.4 Syntax: EHLO hostname");
  CHECK(c.command("EHLO mx1.test").find("250-SIZE 1048576") != std::string::npos);
  CHECK(c.command("RCPT TO:<bob@example.test>") == "503 5.5.1 Error: need MAIL command");
  CHECK(c.command("DATA") == "503 5.5.1 Error: need RCPT command");
  CHECK(c.command("MAIL FROM:<a@b.test").rfind("501 5.5.4 Syntax error in MAIL", 0) == 0);
  CHECK(c.command("MAIL FROM:<a@b.test> SIZE=2000000") ==
        "552 5.3.4 Message size exceeds fixed limit");
  CHECK(c.command("MAIL FROM:<a@b.test> SIZE=1000") == "250 2.1.0 Ok");
  CHECK(c.command("MAIL FROM:<a@b.test>") == "503 5.5.1 Error: nested MAIL command");
  CHECK(c.command("RCPT TO:<a@x.test>") == "250 2.1.5 Ok");
  CHECK(c.command("RCPT TO:<b@x.test>") == "250 2.1.5 Ok");
  CHECK(c.command("RCPT TO:<c@x.test>") == "452 4.5.3 Error: too many recipients");
  CHECK(c.command("BDAT 10 LAST") == "502 5.5.1 Error: command not implemented");
  CHECK(c.command("HELP") == "500 5.5.2 Error: command not recognized");
  CHECK(c.command("RSET") == "250 2.0.0 Ok");
  // A bare LF in a command line cannot be resynchronised: the filter hangs up.
  c.send("NOOP\nNOOP\r\n");
  CHECK(c.read_reply().rfind("421 4.5.2", 0) == 0);
  CHECK(c.closed_by_server());
}

TEST_CASE("MAIL FROM with a SIZE that is not a number is refused with 501, not passed on",
          "[filter]") {
  RedisServer redis;
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = 9;
  FilterProcess filter(fs);
  SmtpTestClient c("127.0.0.1", filter.port());
  REQUIRE(c.read_reply().rfind("220", 0) == 0);
  REQUIRE(c.command("EHLO mx1.test").rfind("250", 0) == 0);
  for (const std::string bad :
       {"SIZE=abc", "SIZE=1e9", "SIZE=0x10", "SIZE=", "SIZE=123456789012345678901"}) {
    INFO(bad);
    CHECK(c.command("MAIL FROM:<a@example.net> " + bad)
              .rfind("501 5.5.4 Syntax error in MAIL: ", 0) == 0);
  }
  CHECK(c.command("MAIL FROM:<a@example.net> SIZE=abc") ==
        "501 5.5.4 Syntax error in MAIL: SIZE must be 1 to 20 digits (RFC 1870)");
  // No transaction was opened by the refused ones.
  CHECK(c.command("RCPT TO:<b@example.test>") == "503 5.5.1 Error: need MAIL command");
  CHECK(c.command("MAIL FROM:<a@example.net> SIZE=100") == "250 2.1.0 Ok");
}

TEST_CASE("a message over message_size_limit is refused after its end", "[filter]") {
  RedisServer redis;
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = 9;
  fs.extra_top = "message_size_limit = 2k\n";
  FilterProcess filter(fs);
  SmtpTestClient c("127.0.0.1", filter.port());
  start_transaction(c);
  c.send("Subject: big\r\n\r\n" + std::string(3000, 'x') + "\r\n.\r\n");
  CHECK(c.read_reply() == "552 5.3.4 Message size exceeds fixed limit");
  CHECK(c.command("NOOP") == "250 2.0.0 Ok");
}

TEST_CASE("a next hop that hangs up in mid-DATA costs a 451, never a lost message", "[filter]") {
  RedisServer redis;
  HangUpServer next_hop;
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = next_hop.port();
  FilterProcess filter(fs);
  SmtpTestClient c("127.0.0.1", filter.port());
  start_transaction(c);
  c.send("Subject: cut off\r\n\r\n" + std::string(100000, 'y') + "\r\n.\r\n");
  auto reply = c.read_reply();
  INFO(filter.log());
  CHECK(reply == "451 4.3.0 Temporary failure passing the message on, try again later");
  CHECK(next_hop.hung_up() == 1);
  CHECK(filter.log().find("next_hop_failed") != std::string::npos);
}

TEST_CASE("connections past max_connections are told 421", "[filter]") {
  RedisServer redis;
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = 9;
  fs.extra_top = "max_connections = 1\n";
  FilterProcess filter(fs);
  SmtpTestClient first("127.0.0.1", filter.port());
  REQUIRE(first.read_reply().rfind("220", 0) == 0);
  SmtpTestClient second("127.0.0.1", filter.port());
  CHECK(second.read_reply().rfind("421 4.3.2", 0) == 0);
  CHECK(second.closed_by_server());
  CHECK(first.command("NOOP") == "250 2.0.0 Ok");
}

TEST_CASE("SIGTERM lets a message being scanned get its answer, then the filter exits",
          "[filter]") {
  RedisServer redis;
  PostfixSettings next_settings;
  next_settings.name = "next-hop";
  next_settings.mynetworks = "127.0.0.0/8";
  PostfixInstance next_hop(next_settings);
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = next_hop.smtp_port();
  FilterProcess filter(fs);
  SmtpTestClient idle("127.0.0.1", filter.port());
  REQUIRE(idle.read_reply().rfind("220", 0) == 0);
  SmtpTestClient c("127.0.0.1", filter.port());
  start_transaction(c);
  c.send("Subject: in flight\r\nX-Mailsan-Test-Verdict: slow 2\r\n\r\nhello\r\n.\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  filter.process().signal(SIGTERM);
  CHECK(idle.closed_by_server());
  auto reply = c.read_reply();
  INFO(filter.log());
  CHECK(reply.rfind("250 2.0.0 Ok: queued as", 0) == 0);
  int status = filter.process().wait(std::chrono::seconds(10));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(next_hop.wait_for_delivered(1).size() == 1);
}

TEST_CASE("with Redis down a split message is still quarantined and delivered", "[filter]") {
  RedisServer redis;
  PostfixSettings next_settings;
  next_settings.name = "next-hop";
  next_settings.mynetworks = "127.0.0.0/8";
  PostfixInstance next_hop(next_settings);
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = next_hop.smtp_port();
  fs.extra_sections = "[verdict]\nspam_thresholds = bob@example.test=3/6\n";
  FilterProcess filter(fs);
  redis.stop();
  SmtpTestClient c("127.0.0.1", filter.port());
  REQUIRE(c.read_reply().rfind("220", 0) == 0);
  REQUIRE(c.command("EHLO mx1.test").rfind("250", 0) == 0);
  REQUIRE(c.command("MAIL FROM:<alice@remote.test>") == "250 2.1.0 Ok");
  REQUIRE(c.command("RCPT TO:<bob@example.test>") == "250 2.1.5 Ok");
  REQUIRE(c.command("RCPT TO:<carol@example.test>") == "250 2.1.5 Ok");
  REQUIRE(c.command("DATA").rfind("354", 0) == 0);
  c.send("Subject: split\r\nX-Mailsan-Test-Verdict: spam 7\r\n\r\nhello\r\n.\r\n");
  auto reply = c.read_reply();
  INFO(filter.log());
  CHECK(reply.rfind("250 2.0.0 Ok: queued as", 0) == 0);
  CHECK(filter.quarantined().size() == 1);
  auto delivered = next_hop.wait_for_delivered(1);
  CHECK(delivered[0].recipient == "carol@example.test");
  CHECK(filter.log().find("quarantine_index_failed") != std::string::npos);
}

}  // namespace mailsan::test

namespace mailsan::test {

// Sends `bytes` one at a time, `gap` apart, until the server answers;
// returns the answer and how long after the first byte it came.
std::pair<std::string, std::chrono::steady_clock::duration> trickle(SmtpTestClient& c,
                                                                    const std::string& bytes,
                                                                    std::chrono::milliseconds gap) {
  const auto start = std::chrono::steady_clock::now();
  for (char ch : bytes) {
    try {
      c.send(std::string_view(&ch, 1));
      return {c.read_reply(gap), std::chrono::steady_clock::now() - start};
    } catch (const std::runtime_error&) {
      // no reply within the gap (or the server has hung up): go on
    }
  }
  try {
    return {c.read_reply(std::chrono::seconds(5)), std::chrono::steady_clock::now() - start};
  } catch (const std::runtime_error& e) {
    return {e.what(), std::chrono::steady_clock::now() - start};
  }
}

TEST_CASE("a client trickling a command or the data a byte at a time is cut off",
          "[filter][slowloris]") {
  RedisServer redis;
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = 9;  // never reached
  fs.extra_top = "command_timeout = 3\ndata_timeout = 3\ndata_min_rate = 100\n";
  FilterProcess filter(fs);
  using std::chrono::milliseconds;
  using std::chrono::seconds;

  // Each byte comes well within the per-read limit; the whole command does
  // not.
  SmtpTestClient command_client("127.0.0.1", filter.port());
  REQUIRE(command_client.read_reply().rfind("220 ", 0) == 0);
  auto [command_reply, command_after] =
      trickle(command_client, "EHLO a-very-slow-client.example.test", milliseconds(400));
  CHECK(command_reply == "421 4.4.2 mx1.test Error: timeout exceeded");
  CHECK(command_after < seconds(5));
  CHECK(command_client.closed_by_server());

  // The body a byte per 400 ms: the DATA phase ends 3 s after it began plus
  // 10 ms per byte received.
  SmtpTestClient data_client("127.0.0.1", filter.port());
  start_transaction(data_client);
  auto [data_reply, data_after] = trickle(data_client, std::string(40, 'x'), milliseconds(400));
  CHECK(data_reply == "421 4.4.2 mx1.test Error: timeout exceeded");
  CHECK(data_after < seconds(5));

  // A message sent at an ordinary rate is not cut off, however long.
  SmtpTestClient fast_client("127.0.0.1", filter.port());
  start_transaction(fast_client);
  std::string line(998, 'y');
  line += "\r\n";
  for (int i = 0; i < 2000; ++i) fast_client.send(line);  // 2 MB, far past 3 s x 100 B/s
  fast_client.send(".\r\n");
  std::string reply = fast_client.read_reply(seconds(30));
  INFO(filter.log());
  // The next hop (port 9) is down: the message got as far as relaying.
  CHECK(reply.rfind("451 4.3.0", 0) == 0);
}

}  // namespace mailsan::test
