// Sender-address verification callouts (SPEC §2.1 step 5) against real
// peers: a real Postfix is the sender domain's MX (it knows some local parts
// and refuses the others with 550 5.1.1), a real unbound serves the MX
// records, a real Redis holds the shared cache. Only the MX that stalls in
// mid-reply is a stand-in, since no real server does that on request.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "test/support/policyd_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/unbound_server.hpp"

namespace mailsan::test {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> mx_zones() {
  return {
      R"(local-zone: "remote.test." static)",
      R"(local-data: "remote.test. 300 IN MX 10 mx.remote.test.")",
      R"(local-data: "mx.remote.test. 300 IN A 127.0.0.20")",
      // No MX: the domain's own address is the implicit MX (RFC 5321 §5.1).
      R"(local-zone: "plain.test." static)",
      R"(local-data: "plain.test. 300 IN A 127.0.0.20")",
      // The MX refuses connections: nothing listens there.
      R"(local-zone: "dead.test." static)",
      R"(local-data: "dead.test. 300 IN MX 10 mx.dead.test.")",
      R"(local-data: "mx.dead.test. 300 IN A 127.0.0.21")",
      // The MX stalls in the middle of its greeting.
      R"(local-zone: "stall.test." static)",
      R"(local-data: "stall.test. 300 IN MX 10 mx.stall.test.")",
      R"(local-data: "mx.stall.test. 300 IN A 127.0.0.22")",
      // The MX answers, but takes seconds for each RCPT.
      R"(local-zone: "slow.test." static)",
      R"(local-data: "slow.test. 300 IN MX 10 mx.slow.test.")",
      R"(local-data: "mx.slow.test. 300 IN A 127.0.0.23")",
      // A backup MX that refuses connections before the one that answers.
      R"(local-zone: "backup.test." static)",
      R"(local-data: "backup.test. 300 IN MX 5 mx.dead.test.")",
      R"(local-data: "backup.test. 300 IN MX 20 mx.remote.test.")",
  };
}

// The sender domains' MX: a real Postfix on 127.0.0.20 that knows
// good@remote.test, ok@plain.test and anyone@backup.test.
PostfixSettings remote_mx_settings(unsigned short port, const std::string& name = "remote",
                                   const std::string& address = "127.0.0.20") {
  PostfixSettings s;
  s.name = name;
  s.hostname = "mx." + name + ".test";
  s.listen_address = address;
  s.smtp_port = port;
  s.local_domains = {"remote.test", "plain.test", "backup.test", "slow.test"};
  s.extra_main_cf =
      "virtual_mailbox_maps = inline:{ good@remote.test=inbox/, ok@plain.test=inbox/, "
      "anyone@backup.test=inbox/, good@slow.test=inbox/ }\n";
  return s;
}

// Connections the Postfix at the sender's MX accepted, from its log.
std::size_t connections(const PostfixInstance& mx) {
  std::string log = mx.maillog();
  std::size_t n = 0;
  for (auto at = log.find("]: connect from "); at != std::string::npos;
       at = log.find("]: connect from ", at + 1))
    ++n;
  return n;
}

// A stand-in MX that sends the first line of a multi-line greeting and then
// nothing, keeping every connection open.
class StallingServer {
 public:
  StallingServer(const std::string& address, unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0)
      throw std::runtime_error("stalling server: cannot listen");
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        ++accepted_;
        static const char kFirstLine[] = "220-mx.stall.test waiting\r\n";
        (void)!::write(c, kFirstLine, sizeof kFirstLine - 1);
        clients_.push_back(c);
      }
    });
  }
  ~StallingServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (int c : clients_) ::close(c);
  }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  std::thread thread_;
  std::atomic<int> accepted_{0};
  std::vector<int> clients_;
};

struct CalloutStack {
  explicit CalloutStack(const std::string& callout_extra = "", const std::string& top = "",
                        int greylist_delay = 300)
      : dns(mx_zones()), port(free_tcp_port()), remote(remote_mx_settings(port)) {
    settings.redis = redis.address();
    settings.callout = true;
    settings.dns_servers = dns.address();
    settings.greylist_delay = greylist_delay;
    settings.extra_top = "local_domains = example.test\n" + top;
    settings.extra_sections =
        "[callout]\nport = " + std::to_string(port) + "\nhelo = mx1.example.test\n" + callout_extra;
  }
  RedisServer redis;
  UnboundServer dns;
  unsigned short port;
  PostfixInstance remote;
  PolicydSettings settings;
};

const std::string kGreylisted = "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 300 seconds";

std::string denied(const std::string& sender, const std::string& ip = "192.0.2.10",
                   const std::string& rcpt = "bob@example.test", int seconds = 300) {
  return "DEFER_IF_PERMIT 4.7.1 <" + rcpt + ">... from <" + sender + "> via [" + ip + "] to <" +
         rcpt + "> denied for " + std::to_string(seconds) + " seconds";
}

}  // namespace

TEST_CASE("a sender its MX refuses is rejected in the words of the MX's reply",
          "[policyd][callout]") {
  CalloutStack stack;
  PolicydProcess policyd(stack.settings);
  PolicyClient client(policyd.port());
  auto action =
      client.ask(rcpt_request("192.0.2.10", "evilspammer@remote.test", "bob@example.test"));
  INFO(policyd.log() << "\n--- MX:\n" << stack.remote.maillog());
  CHECK(action ==
        "550 5.7.1 <evilspammer@remote.test>... MX 10 'mx.remote.test.' [127.0.0.20] for "
        "<evilspammer@remote.test> rejected address saying \"550 5.1.1 "
        "<evilspammer@remote.test>: Recipient address rejected: User unknown in virtual mailbox "
        "table\"");
  // The verdict is shared for a day.
  auto keys = stack.redis.cli({"KEYS", "mailsan:callout:*"});
  REQUIRE(keys.find("mailsan:callout:{") != std::string::npos);
  auto ttl = std::stol(stack.redis.cli({"TTL", keys}));
  CHECK(ttl > 86000);
  CHECK(ttl <= 86400);
  // Never DATA: the MX delivered nothing and saw MAIL FROM:<>.
  CHECK(stack.remote.delivered().empty());
  CHECK(stack.remote.maillog().find("from=<>") != std::string::npos);
  CHECK(policyd.metric(
            "mailsan_policy_check_outcomes_total{check=\"callout\",outcome=\"invalid\"}") == 1);
  // The report's row, in the day's counters every MX adds to (flushed each second).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto days = stack.redis.cli({"KEYS", "mailsan:stats:*"});
  REQUIRE(days.rfind("mailsan:stats:20", 0) == 0);
  CHECK(stack.redis.cli({"HGET", days, "sender_verify"}) == "1");
}

TEST_CASE("a verified sender goes on to greylisting and is cached for a week",
          "[policyd][callout]") {
  CalloutStack stack;
  PolicydProcess policyd(stack.settings);
  PolicyClient client(policyd.port());
  auto action = client.ask(rcpt_request("192.0.2.10", "good@remote.test", "bob@example.test"));
  INFO(policyd.log());
  CHECK(action == kGreylisted);
  auto keys = stack.redis.cli({"KEYS", "mailsan:callout:*"});
  REQUIRE(!keys.empty());
  CHECK(std::stol(stack.redis.cli({"TTL", keys})) > 604000);
  CHECK(stack.redis.cli({"GET", keys}).find("\"verdict\":\"valid\"") != std::string::npos);

  SECTION("a domain without MX is asked at its own address") {
    auto plain = client.ask(rcpt_request("192.0.2.10", "ok@plain.test", "bob@example.test"));
    CHECK(plain == kGreylisted);
    auto nobody = client.ask(rcpt_request("192.0.2.10", "nobody@plain.test", "bob@example.test"));
    CHECK(nobody.rfind("550 5.7.1 <nobody@plain.test>... MX 0 'plain.test.' [127.0.0.20]", 0) == 0);
  }
  SECTION("an MX that refuses connections is skipped for the next in preference order") {
    auto backup = client.ask(rcpt_request("192.0.2.10", "anyone@backup.test", "bob@example.test"));
    CHECK(backup == kGreylisted);
    auto nobody = client.ask(rcpt_request("192.0.2.10", "nobody@backup.test", "bob@example.test"));
    CHECK(nobody.find("MX 20 'mx.remote.test.' [127.0.0.20]") != std::string::npos);
  }
}

TEST_CASE("the null sender, local senders and exempt senders are never called out",
          "[policyd][callout]") {
  CalloutStack stack("skip_senders = @remote.test\n");
  PolicydProcess policyd(stack.settings);
  PolicyClient client(policyd.port());
  CHECK(client.ask(rcpt_request("192.0.2.10", "", "bob@example.test")) == kGreylisted);
  CHECK(client.ask(rcpt_request("192.0.2.10", "alice@example.test", "bob@example.test")) ==
        kGreylisted);
  CHECK(client.ask(rcpt_request("192.0.2.10", "evilspammer@remote.test", "bob@example.test")) ==
        kGreylisted);
  INFO(stack.remote.maillog());
  CHECK(connections(stack.remote) == 0);
  CHECK(stack.redis.cli({"KEYS", "mailsan:callout:*"}).empty());
}

TEST_CASE("a sender whose MX refuses connections is greylisted as unverified",
          "[policyd][callout]") {
  CalloutStack stack;
  PolicydProcess policyd(stack.settings);
  PolicyClient client(policyd.port());
  auto action = client.ask(rcpt_request("192.0.2.10", "someone@dead.test", "bob@example.test"));
  INFO(policyd.log());
  CHECK(action == denied("someone@dead.test"));
  auto keys = stack.redis.cli({"KEYS", "mailsan:callout:*"});
  REQUIRE(!keys.empty());
  auto ttl = std::stol(stack.redis.cli({"TTL", keys}));
  CHECK(ttl > 7100);
  CHECK(ttl <= 7200);
  // The early retry is still deferred, with the time left.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto again = client.ask(rcpt_request("192.0.2.10", "someone@dead.test", "bob@example.test"));
  CHECK(again.rfind("DEFER_IF_PERMIT 4.7.1 <bob@example.test>... from <someone@dead.test>", 0) ==
        0);
  CHECK(again != action);
}

TEST_CASE("an MX that stalls mid-reply costs an unknown verdict within the request deadline",
          "[policyd][callout]") {
  CalloutStack stack("command_timeout = 4\n", "request_timeout = 3\n");
  StallingServer stall("127.0.0.22", stack.port);
  PolicydProcess policyd(stack.settings);
  PolicyClient client(policyd.port());
  auto start = Clock::now();
  auto action = client.ask(rcpt_request("192.0.2.10", "who@stall.test", "bob@example.test"));
  auto took = Clock::now() - start;
  INFO(policyd.log());
  // Unknown, from the callout's own budget (request_timeout - 0.5 s), not
  // the request's DUNNO at request_timeout.
  CHECK(action == denied("who@stall.test"));
  CHECK(took > std::chrono::milliseconds(2000));
  CHECK(took < std::chrono::milliseconds(4000));
  CHECK(stall.accepted() == 1);
  // The callout itself goes on until its command_timeout and remembers the
  // unknown verdict, so the next request does not call again.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto keys = stack.redis.cli({"KEYS", "mailsan:callout:*"});
  REQUIRE(!keys.empty());
  CHECK(stack.redis.cli({"GET", keys}).find("\"verdict\":\"unknown\"") != std::string::npos);
  client.ask(rcpt_request("192.0.2.10", "who@stall.test", "bob@example.test"));
  CHECK(stall.accepted() == 1);
}

TEST_CASE("a callout that outlives the request caches its verdict for the sender's retry",
          "[policyd][callout]") {
  // The slow MX sleeps 3 s before answering RCPT; the request waits 1.5 s.
  CalloutStack stack("", "request_timeout = 2\n", 1);
  PostfixSettings slow_settings = remote_mx_settings(stack.port, "slow", "127.0.0.23");
  slow_settings.recipient_restrictions = "sleep 3, permit_mynetworks";
  PostfixInstance slow(slow_settings);
  PolicydProcess policyd(stack.settings);
  PolicyClient client(policyd.port());
  auto first = client.ask(rcpt_request("192.0.2.10", "good@slow.test", "bob@example.test"));
  INFO(policyd.log() << "\n--- slow MX:\n" << slow.maillog());
  CHECK(first == denied("good@slow.test", "192.0.2.10", "bob@example.test", 1));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto retry =
      client.ask(rcpt_request("192.0.2.10", "good@slow.test", "bob@example.test", "2.3.4"));
  CHECK(retry.rfind("PREPEND X-Greylist: delayed", 0) == 0);
  CHECK(connections(slow) == 1);
}

TEST_CASE("concurrent requests for one sender share one callout, and a second MX uses the cache",
          "[policyd][callout]") {
  CalloutStack stack;
  PolicydProcess primary(stack.settings);
  std::vector<std::future<std::string>> answers;
  for (int i = 0; i < 10; ++i)
    answers.push_back(std::async(std::launch::async, [&, i] {
      PolicyClient c(primary.port());
      return c.ask(rcpt_request("192.0.2." + std::to_string(10 + i), "good@remote.test",
                                "bob@example.test"));
    }));
  for (auto& a : answers) CHECK(a.get().rfind("DEFER_IF_PERMIT 4.7.1 Greylisted", 0) == 0);
  INFO(primary.log() << "\n--- MX:\n" << stack.remote.maillog());
  CHECK(connections(stack.remote) == 1);

  PolicydSettings backup_settings = stack.settings;
  backup_settings.hostname = "mx2.test";
  PolicydProcess backup(backup_settings);
  PolicyClient c(backup.port());
  CHECK(c.ask(rcpt_request("192.0.2.50", "good@remote.test", "bob@example.test")) == kGreylisted);
  CHECK(c.ask(rcpt_request("192.0.2.50", "evil@remote.test", "bob@example.test"))
            .rfind("550 5.7.1 <evil@remote.test>...", 0) == 0);
  CHECK(primary.metric(
            "mailsan_policy_check_outcomes_total{check=\"callout\",outcome=\"joined\"}") == 9);
  PolicyClient p(primary.port());
  CHECK(p.ask(rcpt_request("192.0.2.51", "evil@remote.test", "bob@example.test"))
            .rfind("550 5.7.1 <evil@remote.test>...", 0) == 0);
  // good@ once, evil@ once: the cached verdicts were used everywhere else.
  CHECK(connections(stack.remote) == 2);
}

TEST_CASE("callouts to one domain are limited to max_per_domain at once", "[policyd][callout]") {
  CalloutStack stack("max_per_domain = 2\n");
  PostfixSettings slow_settings = remote_mx_settings(stack.port, "slow", "127.0.0.23");
  slow_settings.recipient_restrictions = "sleep 1, permit_mynetworks";
  PostfixInstance slow(slow_settings);
  PolicydProcess policyd(stack.settings);
  auto start = Clock::now();
  std::vector<std::future<std::string>> answers;
  for (int i = 0; i < 6; ++i)
    answers.push_back(std::async(std::launch::async, [&, i] {
      PolicyClient c(policyd.port());
      return c.ask(rcpt_request("192.0.2.10", "user" + std::to_string(i) + "@slow.test",
                                "bob@example.test"));
    }));
  for (auto& a : answers) CHECK(a.get().rfind("550 5.7.1 <user", 0) == 0);
  auto took = Clock::now() - start;
  INFO(policyd.log() << "\n--- slow MX:\n" << slow.maillog());
  CHECK(connections(slow) == 6);
  // Six callouts of at least a second each, two at a time: three rounds.
  CHECK(took >= std::chrono::milliseconds(2900));
}

TEST_CASE("with Redis down callouts still run and their verdicts still apply",
          "[policyd][callout]") {
  CalloutStack stack;
  PolicydProcess policyd(stack.settings);
  stack.redis.stop();
  PolicyClient client(policyd.port());
  auto action = client.ask(rcpt_request("192.0.2.10", "evil@remote.test", "bob@example.test"));
  INFO(policyd.log());
  CHECK(action.rfind("550 5.7.1 <evil@remote.test>... MX 10", 0) == 0);
  // A verified sender passes: greylisting fails open without Redis.
  CHECK(client.ask(rcpt_request("192.0.2.10", "good@remote.test", "bob@example.test")) == "DUNNO");
}

}  // namespace mailsan::test
