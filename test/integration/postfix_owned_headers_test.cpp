// Incoming headers we own (SPEC §3), end to end: a real Postfix asks a real
// mailsan-policyd at RCPT and DATA (which PREPENDs Received-SPF) and hands
// the message to a real mailsan-filter before queue. A sender's forged
// copies of our headers never reach the queue; ours do.
//
// It also pins down where Postfix puts a policy PREPEND: above the
// Received: header its smtpd adds (smtpd writes the prepended headers
// first), which is the rule the filter relies on to tell our
// Received-SPF/X-Greylist from a sender's (contentfilter/message/owned_headers.hpp).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "test/support/filter_process.hpp"
#include "test/support/policyd_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/unbound_server.hpp"

namespace mailsan::test {

TEST_CASE("forged copies of our headers are removed and ours stay above Postfix's Received",
          "[postfix][filter][owned_headers]") {
  UnboundServer dns({
      R"(local-zone: "sender.test." static)",
      R"(local-data: 'sender.test. 300 IN TXT "v=spf1 ip4:127.0.0.101 -all"')",
  });
  RedisServer redis;
  PolicydSettings policyd_settings;
  policyd_settings.redis = redis.address();
  policyd_settings.spf = true;
  policyd_settings.dns_servers = dns.address();
  policyd_settings.extra_sections = "[greylist]\nenable = no\n";
  PolicydProcess policyd(policyd_settings);

  const unsigned short after_port = free_tcp_port();
  FilterSettings filter_settings;
  filter_settings.redis = redis.address();
  filter_settings.next_hop_port = after_port;
  FilterProcess filter(filter_settings);

  PostfixSettings postfix_settings;
  postfix_settings.name = "owned-headers";
  postfix_settings.recipient_restrictions =
      "permit_mynetworks, reject_unauth_destination, " + policy_service(policyd.port());
  postfix_settings.data_restrictions = policy_service(policyd.port());
  ShippedWiring wiring = shipped_wiring(filter.port(), after_port);
  postfix_settings.smtpd_options = wiring.smtpd_options;
  postfix_settings.extra_master_cf = wiring.after_filter_service;
  PostfixInstance mx(postfix_settings);

  SwaksMessage message;
  message.from = "alice@sender.test";
  message.to = {"bob@example.test"};
  message.local_interface = "127.0.0.101";
  message.headers = {
      "Subject: pre-answered",
      "X-Spam-Flag: NO",
      "X-Spam-Status: No, score=-100.0 required=5.0 tests=FORGED",
      "X-Virus-Scanned: clean by the sender",
      "X-Mailsan-Bulk: no",
      "Received-SPF: pass (forged by the sender)",
      "X-Greylist: delayed 300 seconds by forged",
      "X-Mailsan-Test-Verdict: spam 2.5",
  };
  auto sent = mx.send(message);
  INFO(sent.transcript << "\n--- filter:\n" << filter.log() << "\n--- policyd:\n" << policyd.log());
  REQUIRE(sent.exit_code == 0);

  auto delivered = mx.wait_for_delivered(1);
  INFO(mx.diagnostics());
  REQUIRE(delivered.size() == 1);
  const DeliveredMessage& m = delivered[0];
  INFO(m.content);
  CHECK(m.headers("Subject") == std::vector<std::string>{"pre-answered"});
  // Ours, once each: the filter's verdict and policyd's SPF result.
  CHECK(m.headers("X-Spam-Flag") == std::vector<std::string>{"NO"});
  auto status = m.headers("X-Spam-Status");
  REQUIRE(status.size() == 1);
  CHECK(status[0].rfind("No, score=2.5 ", 0) == 0);
  auto spf = m.headers("Received-SPF");
  REQUIRE(spf.size() == 1);
  CHECK(spf[0].rfind("pass ", 0) == 0);
  CHECK(spf[0].find("127.0.0.101") != std::string::npos);
  // The test scanner looks for viruses too: its line is the only one.
  CHECK(m.headers("X-Virus-Scanned") == std::vector<std::string>{"mailsan-filter at mx1.test"});
  // The sender's are gone.
  CHECK(m.headers("X-Greylist").empty());
  CHECK(m.headers("X-Mailsan-Bulk").empty());
  CHECK(m.content.find("forged") == std::string::npos);
  CHECK(m.content.find("FORGED") == std::string::npos);

  // Postfix put policyd's PREPEND right above the Received: header of the
  // smtpd that asked policyd (the one naming the real client).
  const auto spf_at = m.content.find("\nReceived-SPF: pass ");
  const auto client_received_at = m.content.find("[127.0.0.101])");
  REQUIRE(spf_at != std::string::npos);
  REQUIRE(client_received_at != std::string::npos);
  CHECK(spf_at < client_received_at);
  const auto between = m.content.substr(spf_at + 1, client_received_at - spf_at);
  CHECK(between.find("\nReceived: from ") != std::string::npos);
  CHECK(between.find("\nReceived: from ", between.find("\nReceived: from ") + 1) ==
        std::string::npos);

  CHECK(filter.log().find("owned_headers_removed") != std::string::npos);
  CHECK(filter.log().find("count=6") != std::string::npos);
}

}  // namespace mailsan::test
