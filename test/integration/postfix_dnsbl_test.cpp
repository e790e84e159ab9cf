// DNSBL and DNSWL end to end (SPEC §2.1 step 3): a real Postfix asks a real
// mailsan-policyd, which looks the client up in zones served by a real
// unbound. swaks plays three sending MTAs from three loopback addresses: one
// listed in a blocklist, one in a whitelist, one in neither.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "test/support/policyd_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/unbound_server.hpp"

namespace mailsan::test {

TEST_CASE("Postfix rejects a listed client at RCPT and lets a DNSWL client skip greylisting",
          "[postfix][dnsbl]") {
  UnboundServer dns({
      R"(local-zone: "bl.test." static)",
      R"(local-data: "100.0.0.127.bl.test. 300 IN A 127.0.0.2")",
      R"(local-data: '100.0.0.127.bl.test. 300 IN TXT "listed in bl.test for testing"')",
      R"(local-zone: "wl.test." static)",
      R"(local-data: "101.0.0.127.wl.test. 300 IN A 127.0.0.2")",
  });
  RedisServer redis;
  PolicydSettings policyd_settings;
  policyd_settings.redis = redis.address();
  policyd_settings.greylist_delay = 300;
  policyd_settings.dns_servers = dns.address();
  policyd_settings.extra_sections =
      "[rbl]\nzones = bl.test*3, wl.test=127.0.0.2*-5\nreject_score = 3\n";
  PolicydProcess policyd(policyd_settings);

  PostfixSettings postfix_settings;
  postfix_settings.name = "dnsbl";
  postfix_settings.recipient_restrictions =
      "permit_mynetworks, reject_unauth_destination, " + policy_service(policyd.port());
  postfix_settings.data_restrictions = policy_service(policyd.port());
  PostfixInstance mx(postfix_settings);

  SwaksMessage message;
  message.from = "alice@sender.test";
  message.to = {"bob@example.test"};

  message.local_interface = "127.0.0.100";
  auto listed = mx.send(message);
  INFO(listed.transcript << "\n--- policyd log:\n" << policyd.log());
  CHECK(listed.transcript.find("554 5.7.1 <bob@example.test>: Recipient address rejected: "
                               "Service unavailable; client [127.0.0.100] blocked using bl.test; "
                               "listed in bl.test for testing") != std::string::npos);
  CHECK(listed.exit_code == 24);

  message.local_interface = "127.0.0.102";
  auto unlisted = mx.send(message);
  INFO(unlisted.transcript);
  CHECK(unlisted.transcript.find("450 4.7.1 <bob@example.test>: Recipient address rejected: "
                                 "Greylisted") != std::string::npos);

  message.local_interface = "127.0.0.101";
  message.headers = {"Subject: from a whitelisted client"};
  auto whitelisted = mx.send(message);
  INFO(whitelisted.transcript);
  REQUIRE(whitelisted.exit_code == 0);
  CHECK(whitelisted.transcript.find("250 2.0.0 Ok: queued") != std::string::npos);

  mx.wait_for_delivered(1);
  REQUIRE(mx.wait_until_queue_empty());
  auto delivered = mx.delivered();
  INFO(mx.diagnostics());
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].headers("Subject") == std::vector<std::string>{"from a whitelisted client"});
  CHECK(delivered[0].headers("X-Greylist").empty());
}

}  // namespace mailsan::test
