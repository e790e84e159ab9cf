// SPF end to end (SPEC §2.1 step 4): a real Postfix asks a real
// mailsan-policyd, which checks the sender's SPF record served by a real
// unbound. swaks plays two sending MTAs: 127.0.0.100, which the sender's
// domain does not permit, and 127.0.0.101, which it does.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "test/support/policyd_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/unbound_server.hpp"

namespace mailsan::test {

TEST_CASE("Postfix rejects an SPF fail at RCPT and delivers an SPF pass with Received-SPF",
          "[postfix][spf]") {
  UnboundServer dns({
      R"(local-zone: "sender.test." static)",
      R"(local-data: 'sender.test. 300 IN TXT "v=spf1 ip4:127.0.0.101 -all"')",
  });
  RedisServer redis;
  PolicydSettings policyd_settings;
  policyd_settings.redis = redis.address();
  policyd_settings.spf = true;
  policyd_settings.dns_servers = dns.address();
  // Greylisting is not under test: without it the pass is delivered at once.
  policyd_settings.extra_sections = "[greylist]\nenable = no\n";
  PolicydProcess policyd(policyd_settings);

  PostfixSettings postfix_settings;
  postfix_settings.name = "spf";
  postfix_settings.recipient_restrictions =
      "permit_mynetworks, reject_unauth_destination, " + policy_service(policyd.port());
  postfix_settings.data_restrictions = policy_service(policyd.port());
  PostfixInstance mx(postfix_settings);

  SwaksMessage message;
  message.from = "alice@sender.test";
  message.to = {"bob@example.test"};

  message.local_interface = "127.0.0.100";
  auto forged = mx.send(message);
  INFO(forged.transcript << "\n--- policyd log:\n" << policyd.log());
  CHECK(forged.transcript.find("550 5.7.23 <bob@example.test>: Recipient address rejected: "
                               "<alice@sender.test>: SPF check failed: ") != std::string::npos);
  CHECK(forged.exit_code == 24);

  message.local_interface = "127.0.0.101";
  message.headers = {"Subject: from a permitted client"};
  auto permitted = mx.send(message);
  INFO(permitted.transcript);
  REQUIRE(permitted.exit_code == 0);
  CHECK(permitted.transcript.find("250 2.0.0 Ok: queued") != std::string::npos);

  mx.wait_for_delivered(1);
  REQUIRE(mx.wait_until_queue_empty());
  auto delivered = mx.delivered();
  INFO(mx.diagnostics());
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].headers("Subject") == std::vector<std::string>{"from a permitted client"});
  auto spf = delivered[0].headers("Received-SPF");
  REQUIRE(spf.size() == 1);
  CHECK(spf[0].rfind("pass ", 0) == 0);
  CHECK(spf[0].find("127.0.0.101") != std::string::npos);
}

}  // namespace mailsan::test
