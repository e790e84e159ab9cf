// Bulk checksums end to end (SPEC §3): two mailsan-filter instances, as on
// two MXes, count into one real Redis; what they accept goes to a real
// Postfix, where the X-Mailsan-Bulk header is read back.
#include <catch2/catch.hpp>
#include <string>

#include "test/support/filter_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"

namespace mailsan::test {
namespace {

std::string send_one(const FilterProcess& filter, const std::string& rcpt,
                     const std::string& message, const std::string& from = "deals@bulk.test") {
  SmtpTestClient c("127.0.0.1", filter.port());
  c.read_reply();
  c.command("EHLO mx.test");
  c.command("MAIL FROM:<" + from + ">");
  c.command("RCPT TO:<" + rcpt + ">");
  c.command("DATA");
  c.send(message + ".\r\n");
  return c.read_reply();
}

std::string spam_copy(int i) {
  const char* names[] = {"John", "Mary", "Peter", "Anna", "Mike", "Lisa"};
  return "From: deals@bulk.test\r\nSubject: Offer " + std::to_string(1000 + i * 7) +
         "\r\n\r\nDear " + names[i % 6] + ",\r\nyou have won " + std::to_string(100 * i + 5) +
         " dollars! Claim at https://win.bulk.test/c?id=" + std::to_string(i * 31337) + "\r\n";
}

std::string bulk_header_for(const PostfixInstance& mx, const std::string& rcpt) {
  for (const auto& m : mx.delivered())
    if (m.recipient == rcpt) {
      auto h = m.headers("X-Mailsan-Bulk");
      return h.empty() ? std::string("(none)") : h[0];
    }
  return "(not delivered)";
}

}  // namespace

TEST_CASE("varied copies of one spam through two filters on one Redis reach the bulk threshold",
          "[filter][bulk]") {
  RedisServer redis;
  PostfixSettings next_settings;
  next_settings.name = "bulk-next-hop";
  next_settings.mynetworks = "127.0.0.0/8";
  PostfixInstance next_hop(next_settings);
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = next_hop.smtp_port();
  fs.marker = false;
  fs.bulk = true;
  fs.extra_sections = "[bulk]\nbulk_threshold = 5\nspam_traps = trap@example.test\n";
  FilterProcess mx1(fs);
  fs.hostname = "mx2.test";
  FilterProcess mx2(fs);

  for (int i = 1; i <= 6; ++i) {
    const FilterProcess& via = i % 2 ? mx1 : mx2;
    auto reply = send_one(via, "user" + std::to_string(i) + "@example.test", spam_copy(i));
    INFO(mx1.log() << mx2.log());
    REQUIRE(reply.rfind("250", 0) == 0);
  }
  auto delivered = next_hop.wait_for_delivered(6);
  INFO(next_hop.diagnostics());
  CHECK(bulk_header_for(next_hop, "user1@example.test") == "no; count=1");
  CHECK(bulk_header_for(next_hop, "user4@example.test") == "no; count=4");
  CHECK(bulk_header_for(next_hop, "user5@example.test") == "yes; count=5");
  CHECK(bulk_header_for(next_hop, "user6@example.test") == "yes; count=6");
  // Bulk adds to the spam score; without spamd, no X-Spam-* header claims
  // a spam check was made.
  CHECK(mx2.log().find("score=5.0") != std::string::npos);
  for (const auto& m : next_hop.delivered()) CHECK(m.headers("X-Spam-Score").empty());

  SECTION("a one-to-one message never is") {
    for (int i = 0; i < 3; ++i)
      send_one(mx1, "friend@example.test",
               "Subject: lunch\r\n\r\nSee you at noon, " + std::to_string(i) + "\r\n",
               "bob@x.test");
    next_hop.wait_for_delivered(9);
    for (const auto& m : next_hop.delivered())
      if (m.recipient == "friend@example.test")
        CHECK(m.headers("X-Mailsan-Bulk")[0].rfind("no; count=1", 0) == 0);
  }
  SECTION("a spam-trap hit makes the next copy bulk") {
    std::string fresh = "Subject: new campaign\r\n\r\nBuy pills at https://p.test/?r=1\r\n";
    send_one(mx1, "trap@example.test", fresh);
    send_one(mx2, "victim@example.test", fresh);
    next_hop.wait_for_delivered(8);
    CHECK(bulk_header_for(next_hop, "victim@example.test") == "yes; count=2; marked");
  }
  SECTION("List-ID mail is solicited and not counted") {
    std::string list = "List-ID: <news.bulk.test>\r\nSubject: news\r\n\r\nNewsletter\r\n";
    for (int i = 0; i < 6; ++i) send_one(mx2, "reader" + std::to_string(i) + "@example.test", list);
    next_hop.wait_for_delivered(12);
    CHECK(bulk_header_for(next_hop, "reader5@example.test") == "solicited");
  }
}

}  // namespace mailsan::test
