// mailsan-filter end to end (SPEC §3): a real Postfix whose port-25 smtpd
// hands every message to mailsan-filter (smtpd_proxy_filter with
// speed_adjust) and an after-filter smtpd that takes what the filter
// relays, as in the shipped wiring. The test scanner (marker) chooses
// verdicts by a header, so every path of the proxy is exercised with real
// Postfix on both sides.
#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "test/support/filter_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"

namespace mailsan::test {
namespace {

// Front Postfix → mailsan-filter → after-filter smtpd of the same Postfix.
struct FilterStack {
  explicit FilterStack(const std::string& filter_extra_top = "",
                       const std::string& filter_sections = "")
      : after_port(free_tcp_port()),
        filter(filter_settings(filter_extra_top, filter_sections)),
        mx(postfix_settings()) {}

  FilterSettings filter_settings(const std::string& top, const std::string& sections) {
    FilterSettings s;
    s.redis = redis.address();
    s.next_hop_port = after_port;
    s.extra_top = "message_size_limit = 60000000\n" + top;
    s.extra_sections = sections;
    return s;
  }
  PostfixSettings postfix_settings() {
    PostfixSettings s;
    s.name = "filter-mx";
    ShippedWiring wiring = shipped_wiring(filter.port(), after_port);
    s.smtpd_options = wiring.smtpd_options;
    s.extra_main_cf = "message_size_limit = 60000000\nvirtual_mailbox_limit = 0\n";
    s.extra_master_cf = wiring.after_filter_service;
    return s;
  }

  RedisServer redis;
  unsigned short after_port;
  FilterProcess filter;
  PostfixInstance mx;
};

SwaksMessage marked(const std::string& verdict, const std::string& subject) {
  SwaksMessage m;
  m.from = "alice@remote.test";
  m.to = {"bob@example.test"};
  m.headers = {"Subject: " + subject};
  if (!verdict.empty()) m.headers.push_back("X-Mailsan-Test-Verdict: " + verdict);
  m.body = "Hello Bob,\n.a line that starts with a dot\n..and one with two\nbye\n";
  return m;
}

}  // namespace

TEST_CASE("a clean message passes the filter, tagged, with the original client in Received",
          "[postfix][filter]") {
  FilterStack stack;
  auto sent = stack.mx.send(marked("spam 1.5", "clean"));
  INFO(sent.transcript << "\n--- filter:\n" << stack.filter.log());
  REQUIRE(sent.exit_code == 0);
  CHECK(sent.transcript.find("250 2.0.0 Ok: queued as") != std::string::npos);
  auto delivered = stack.mx.wait_for_delivered(1);
  INFO(stack.mx.diagnostics());
  REQUIRE(delivered.size() == 1);
  const auto& m = delivered[0];
  CHECK(m.headers("X-Spam-Flag") == std::vector<std::string>{"NO"});
  CHECK(m.headers("X-Spam-Score") == std::vector<std::string>{"1.5"});
  CHECK(m.headers("X-Spam-Status") ==
        std::vector<std::string>{"No, score=1.5 required=5.0 tests=MAILSAN_TEST_MARKER"});
  CHECK(m.headers("X-Virus-Scanned") == std::vector<std::string>{"mailsan-filter at mx1.test"});
  // The before-filter smtpd's Received: header, which names the real client,
  // reaches the queue unchanged, and XFORWARD gives the after-filter smtpd
  // the client's name and address for its log.
  auto received = m.headers("Received");
  INFO(m.content);
  REQUIRE(received.size() == 2);
  CHECK(received[1].find("from client.test (unknown [127.0.0.100])") != std::string::npos);
  CHECK(stack.mx.maillog().find("orig_client=unknown[127.0.0.100]") != std::string::npos);
  // Dot-stuffing undone for the scanners and redone on the way on.
  CHECK(m.content.find("\n.a line that starts with a dot\n..and one with two\n") !=
        std::string::npos);
  CHECK(m.sender == "alice@remote.test");
  CHECK(m.recipient == "bob@example.test");
}

TEST_CASE("a virus is refused at end-of-DATA and nothing is queued", "[postfix][filter]") {
  FilterStack stack;
  auto sent = stack.mx.send(marked("virus Eicar-Test-Signature", "virus"));
  INFO(sent.transcript << "\n--- filter:\n" << stack.filter.log());
  CHECK(sent.transcript.find("554 5.7.1 Rejected: virus Eicar-Test-Signature found") !=
        std::string::npos);
  CHECK(sent.exit_code != 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(stack.mx.queued() == 0);
  CHECK(stack.mx.delivered().empty());
}

TEST_CASE("spam at every recipient's reject score is refused with its score", "[postfix][filter]") {
  FilterStack stack;
  auto sent = stack.mx.send(marked("spam 12", "spam"));
  INFO(sent.transcript);
  CHECK(sent.transcript.find("550 5.7.1 Rejected as spam (score 12.0)") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(stack.mx.queued() == 0);
  CHECK(stack.mx.delivered().empty());
  // The report's row, in the day's counters every MX adds to.
  auto days = stack.redis.cli({"KEYS", "mailsan:stats:*"});
  REQUIRE(days.rfind("mailsan:stats:20", 0) == 0);
  CHECK(stack.redis.cli({"HGET", days, "spam"}) == "1");
}

TEST_CASE(
    "recipients that disagree: the accepting one gets the message, the other's copy is "
    "quarantined",
    "[postfix][filter][quarantine]") {
  FilterStack stack("", "[verdict]\nspam_thresholds = bob@example.test=3/6\n");
  SwaksMessage m = marked("spam 7", "split");
  m.to = {"bob@example.test", "carol@example.test"};
  auto sent = stack.mx.send(m);
  INFO(sent.transcript << "\n--- filter:\n" << stack.filter.log());
  REQUIRE(sent.exit_code == 0);
  auto delivered = stack.mx.wait_for_delivered(1);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  delivered = stack.mx.delivered();
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].recipient == "carol@example.test");
  CHECK(delivered[0].headers("X-Spam-Flag") == std::vector<std::string>{"YES"});
  auto ids = stack.filter.quarantined();
  REQUIRE(ids.size() == 1);
  std::string record = read_file(stack.filter.quarantine_dir() / ids[0] / "record.json");
  CHECK(record.find("bob@example.test") != std::string::npos);
  CHECK(record.find("carol@example.test") == std::string::npos);
  // The index every MX's mailsanctl reads.
  CHECK(stack.redis.cli({"ZCARD", "mailsan:quarantine"}) == "1");

  // Released, bob's copy goes the rest of the way through next_hop.
  auto released = run(
      {MAILSANCTL_BIN, "-c", stack.filter.config_path().string(), "quarantine", "release", ids[0]});
  INFO(released.output);
  CHECK(released.exit_code == 0);
  delivered = stack.mx.wait_for_delivered(2);
  REQUIRE(delivered.size() == 2);
  CHECK(delivered[1].recipient == "bob@example.test");
  CHECK(delivered[1].headers("Subject") == std::vector<std::string>{"split"});
  CHECK(stack.filter.quarantined().empty());
  CHECK(stack.redis.cli({"ZCARD", "mailsan:quarantine"}) == "0");
}

TEST_CASE("a virus is silently quarantined when virus_action says so", "[postfix][filter]") {
  FilterStack stack("", "[clamav]\nvirus_action = quarantine\n");
  auto sent = stack.mx.send(marked("virus Worm.Mydoom", "worm"));
  INFO(sent.transcript << "\n--- filter:\n" << stack.filter.log());
  REQUIRE(sent.exit_code == 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(stack.mx.delivered().empty());
  CHECK(stack.mx.queued() == 0);
  CHECK(stack.filter.quarantined().size() == 1);
}

TEST_CASE("a scanner that fails closed, or outlasts scan_timeout, tempfails the message",
          "[postfix][filter]") {
  FilterStack stack("scan_timeout = 2\n");
  auto failed = stack.mx.send(marked("fail", "fail"));
  INFO(failed.transcript << "\n--- filter:\n" << stack.filter.log());
  CHECK(failed.transcript.find("451 4.3.0 Message scan temporarily unavailable") !=
        std::string::npos);
  auto start = std::chrono::steady_clock::now();
  auto slow = stack.mx.send(marked("slow 30", "slow"));
  INFO(slow.transcript);
  CHECK(slow.transcript.find("451 4.3.0 Message scan temporarily unavailable") !=
        std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(stack.mx.queued() == 0);
  CHECK(stack.mx.delivered().empty());
}

TEST_CASE("with the next hop down the client gets 451 and its retry is delivered",
          "[postfix][filter]") {
  // The next hop is a Postfix of its own here, so that it can be stopped.
  RedisServer redis;
  PostfixSettings downstream_settings;
  downstream_settings.name = "downstream";
  downstream_settings.mynetworks = "127.0.0.0/8";
  downstream_settings.smtpd_options = {"smtpd_authorized_xforward_hosts=127.0.0.0/8"};
  PostfixInstance downstream(downstream_settings, false);
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = downstream.smtp_port();
  FilterProcess filter(fs);
  PostfixSettings front_settings;
  front_settings.name = "front";
  front_settings.smtpd_options = {"smtpd_proxy_filter=127.0.0.1:" + std::to_string(filter.port()),
                                  "smtpd_proxy_options=speed_adjust"};
  PostfixInstance front(front_settings);

  auto refused = front.send(marked("", "retried"));
  INFO(refused.transcript << "\n--- filter:\n" << filter.log());
  CHECK(refused.transcript.find("451 4.3.0") != std::string::npos);
  CHECK(front.queued() == 0);

  downstream.start();
  auto retried = front.send(marked("", "retried"));
  INFO(retried.transcript);
  REQUIRE(retried.exit_code == 0);
  auto delivered = downstream.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].headers("Subject") == std::vector<std::string>{"retried"});
}

TEST_CASE("a 50 MB message passes with bounded memory", "[postfix][filter][large]") {
  FilterStack stack;
  SmtpTestClient c("127.0.0.1", stack.mx.smtp_port(), "127.0.0.100");
  REQUIRE(c.read_reply().rfind("220", 0) == 0);
  REQUIRE(c.command("EHLO client.test").rfind("250", 0) == 0);
  REQUIRE(c.command("MAIL FROM:<alice@remote.test> SIZE=52500000").rfind("250", 0) == 0);
  REQUIRE(c.command("RCPT TO:<bob@example.test>").rfind("250", 0) == 0);
  REQUIRE(c.command("DATA").rfind("354", 0) == 0);
  c.send("Subject: large\r\n\r\n");
  std::string line(998, 'x');
  line += "\r\n";
  std::string block;
  for (int i = 0; i < 1000; ++i) block += line;  // 1,000,000 bytes
  for (int i = 0; i < 50; ++i) c.send(block);
  c.send(".\r\n");
  auto reply = c.read_reply(std::chrono::seconds(120));
  INFO(reply << "\n--- filter:\n" << stack.filter.log());
  CHECK(reply.rfind("250 2.0.0 Ok: queued as", 0) == 0);
  long peak_kib = stack.filter.peak_rss_kib();
  WARN("mailsan-filter peak RSS after a 50 MB message: " << peak_kib << " KiB");
  CHECK(peak_kib > 0);
  CHECK(peak_kib < 40 * 1024);
  auto delivered = stack.mx.wait_for_delivered(1, std::chrono::seconds(60));
  REQUIRE(delivered.size() == 1);
  // Delivered with "\n" line ends: 50,000 lines of 998 bytes and the header.
  CHECK(delivered[0].content.size() > 49'950'000);
  CHECK(delivered[0].content.find("\n" + std::string(998, 'x') + "\n") != std::string::npos);
}

TEST_CASE("8BITMIME and SMTPUTF8 pass through the filter", "[postfix][filter]") {
  FilterStack stack;
  SmtpTestClient c("127.0.0.1", stack.mx.smtp_port(), "127.0.0.100");
  REQUIRE(c.read_reply().rfind("220", 0) == 0);
  std::string ehlo = c.command("EHLO client.test");
  REQUIRE(ehlo.find("SMTPUTF8") != std::string::npos);
  REQUIRE(c.command("MAIL FROM:<j\xc3\xb6rg@remote.test> SMTPUTF8 BODY=8BITMIME").rfind("250", 0) ==
          0);
  REQUIRE(c.command("RCPT TO:<bob@example.test>").rfind("250", 0) == 0);
  REQUIRE(c.command("DATA").rfind("354", 0) == 0);
  c.send(
      "Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f"
      "e aus K\xc3\xb6ln\r\n.\r\n");
  auto reply = c.read_reply();
  INFO(reply << "\n--- filter:\n" << stack.filter.log());
  REQUIRE(reply.rfind("250", 0) == 0);
  auto delivered = stack.mx.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].content.find("Gr\xc3\xbc\xc3\x9f"
                                  "e aus K\xc3\xb6ln") != std::string::npos);
  CHECK(delivered[0].sender == "j\xc3\xb6rg@remote.test");
}

}  // namespace mailsan::test
