// mailsan-filter with spamd, end to end: a real Postfix whose port-25
// smtpd hands every message to mailsan-filter (the shipped
// master.cf.filter wiring), a real spamd (Debian's SpamAssassin) scoring it,
// and the after-filter smtpd queueing what the filter relays. GTUBE is
// refused with its score, ham is delivered tagged, per-user preferences
// reach spamd through User:, and with spamd stopped mail still flows,
// marked unchecked (fail open, SPEC §3).
#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "test/support/filter_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/spamd_server.hpp"

namespace mailsan::test {
namespace {

// Front Postfix → mailsan-filter (spamd only) → after-filter smtpd.
struct SpamdStack {
  explicit SpamdStack(const std::string& spamd_options = "", bool with_bulk = false)
      : after_port(free_tcp_port()),
        filter(filter_settings(spamd_options, with_bulk)),
        mx(postfix_settings()) {}

  FilterSettings filter_settings(const std::string& spamd_options, bool with_bulk) {
    FilterSettings s;
    s.redis = redis.address();
    s.next_hop_port = after_port;
    s.marker = false;
    s.spamd = true;
    s.bulk = with_bulk;
    s.extra_sections = "[spamd]\naddress = " + spamd.address() + "\ntimeout = 20\n" + spamd_options;
    return s;
  }
  PostfixSettings postfix_settings() {
    PostfixSettings s;
    s.name = "spamd-mx";
    ShippedWiring wiring = shipped_wiring(filter.port(), after_port);
    s.smtpd_options = wiring.smtpd_options;
    s.extra_master_cf = wiring.after_filter_service;
    return s;
  }

  static SpamdServerSettings spamd_settings() {
    SpamdServerSettings s;
    // The test's client connects from 127.0.0.100, and SpamAssassin always
    // trusts 127/8, so ALL_TRUSTED (-1) would fire as it never does for a
    // client on the Internet.
    s.local_cf = "score ALL_TRUSTED 0\n";
    return s;
  }

  RedisServer redis;
  SpamdServer spamd{spamd_settings()};
  unsigned short after_port;
  FilterProcess filter;
  PostfixInstance mx;
};

SwaksMessage message_to(const std::string& to, const std::string& subject,
                        const std::string& body) {
  SwaksMessage m;
  m.from = "alice@remote.test";
  m.to = {to};
  m.headers = {"Subject: " + subject};
  m.body = body;
  return m;
}

const std::string kHamBody =
    "Hello Bob,\n\nshall we meet for lunch on Friday at noon? The usual place.\n\nAlice\n";

std::string gtube_body() {
  return "This is the GTUBE, the\n\tGeneric\n\tTest for\n\tUnsolicited\n\tBulk\n\tEmail\n\n" +
         std::string(SpamdServer::gtube) + "\n";
}

}  // namespace

TEST_CASE("GTUBE is refused at end-of-DATA with spamd's score and nothing is queued",
          "[postfix][filter][spamd]") {
  SpamdStack stack;
  auto sent = stack.mx.send(message_to("bob@example.test", "gtube", gtube_body()));
  INFO(sent.transcript << "\n--- filter:\n"
                       << stack.filter.log() << "\n--- spamd:\n"
                       << stack.spamd.log());
  CHECK(sent.transcript.find("550 5.7.1 Rejected as spam (score 1000.0)") != std::string::npos);
  CHECK(sent.exit_code != 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(stack.mx.queued() == 0);
  CHECK(stack.mx.delivered().empty());
  // spamd was asked on behalf of the recipient.
  CHECK(stack.spamd.log().find("for bob:") != std::string::npos);
}

TEST_CASE("ham is delivered tagged X-Spam-Status: No with spamd's score and rules",
          "[postfix][filter][spamd]") {
  SpamdStack stack;
  auto sent = stack.mx.send(message_to("bob@example.test", "lunch", kHamBody));
  INFO(sent.transcript << "\n--- filter:\n"
                       << stack.filter.log() << "\n--- spamd:\n"
                       << stack.spamd.log());
  REQUIRE(sent.exit_code == 0);
  auto delivered = stack.mx.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  const auto& m = delivered[0];
  CHECK(m.headers("X-Spam-Flag") == std::vector<std::string>{"NO"});
  auto status = m.headers("X-Spam-Status");
  REQUIRE(status.size() == 1);
  CHECK(status[0].rfind("No, score=", 0) == 0);
  CHECK(status[0].find(" required=5.0 tests=") != std::string::npos);
  auto score = m.headers("X-Spam-Score");
  REQUIRE(score.size() == 1);
  CHECK(std::stod(score[0]) < 5);
  CHECK(m.headers("X-Virus-Scanned").empty());  // no virus scanner in this stack
  CHECK(m.content.find("shall we meet for lunch") != std::string::npos);
}

TEST_CASE("per-user preferences reach spamd through User: (the recipient's local part)",
          "[postfix][filter][spamd]") {
  SpamdStack stack;
  // Bob trusts GTUBE a good deal less than everyone else does.
  stack.spamd.write_user_prefs("bob", "score GTUBE 0.001\n");
  auto to_bob = stack.mx.send(message_to("bob@example.test", "gtube for bob", gtube_body()));
  auto to_carol = stack.mx.send(message_to("carol@example.test", "gtube for carol", gtube_body()));
  INFO(to_bob.transcript << "\n"
                         << to_carol.transcript << "\n--- filter:\n"
                         << stack.filter.log() << "\n--- spamd:\n"
                         << stack.spamd.log());
  REQUIRE(to_bob.exit_code == 0);
  CHECK(to_carol.transcript.find("550 5.7.1 Rejected as spam (score 1000.0)") != std::string::npos);
  auto delivered = stack.mx.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].recipient == "bob@example.test");
  auto status = delivered[0].headers("X-Spam-Status");
  REQUIRE(status.size() == 1);
  CHECK(status[0].find("GTUBE") != std::string::npos);
}

TEST_CASE("with spamd stopped mail is delivered marked X-Spam-Status: unchecked",
          "[postfix][filter][spamd]") {
  SpamdStack stack;
  stack.spamd.stop();
  auto started = std::chrono::steady_clock::now();
  auto sent = stack.mx.send(message_to("bob@example.test", "spamd down", gtube_body()));
  INFO(sent.transcript << "\n--- filter:\n" << stack.filter.log());
  REQUIRE(sent.exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  auto delivered = stack.mx.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].headers("X-Spam-Status") == std::vector<std::string>{"unchecked"});
  CHECK(delivered[0].headers("X-Spam-Flag").empty());
  CHECK(delivered[0].headers("X-Spam-Score").empty());
  CHECK(stack.filter.log().find("Connection refused") != std::string::npos);
}

// The bulk scanner always completes (a score of 0 for a message it has not
// seen often); that must not pass for a spam check spamd never made.
TEST_CASE("with spamd stopped and bulk counting, mail is still marked unchecked, never clean",
          "[postfix][filter][spamd]") {
  SpamdStack stack("", true);
  stack.spamd.stop();
  auto sent = stack.mx.send(message_to("bob@example.test", "spamd down", kHamBody));
  INFO(sent.transcript << "\n--- filter:\n" << stack.filter.log());
  REQUIRE(sent.exit_code == 0);
  auto delivered = stack.mx.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].headers("X-Spam-Status") == std::vector<std::string>{"unchecked"});
  CHECK(delivered[0].headers("X-Spam-Flag").empty());
  CHECK(delivered[0].headers("X-Spam-Score").empty());
  CHECK(delivered[0].headers("X-Mailsan-Bulk").size() == 1);  // bulk did run
  CHECK(stack.filter.log().find("verdict=unchecked") != std::string::npos);
  CHECK(stack.filter.log().find("verdict=clean") == std::string::npos);
}

TEST_CASE("a message over spamd.max_size is marked unchecked even though bulk scored it",
          "[postfix][filter][spamd]") {
  SpamdStack stack("max_size = 1k\n", true);
  std::string body = kHamBody;
  while (body.size() < 4096) body += "Some more words about the lunch on Friday.\n";
  auto sent = stack.mx.send(message_to("bob@example.test", "long lunch", body));
  INFO(sent.transcript << "\n--- filter:\n" << stack.filter.log());
  REQUIRE(sent.exit_code == 0);
  auto delivered = stack.mx.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].headers("X-Spam-Status") == std::vector<std::string>{"unchecked"});
  CHECK(delivered[0].headers("X-Spam-Flag").empty());
  CHECK(stack.spamd.log().find("for bob:") == std::string::npos);  // never sent
}

}  // namespace mailsan::test
