// Sender-address verification end to end (SPEC §2.1 step 5), reproducing the
// seed deployment's transcripts: a real Postfix MX asks a real
// mailsan-policyd, which calls out to the sender domains' MX hosts — real
// Postfix instances on other loopback addresses, found through a real
// unbound.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "test/support/policyd_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/unbound_server.hpp"

namespace mailsan::test {

TEST_CASE(
    "Postfix refuses a sender its MX rejects, tempfails an unverifiable one, and accepts "
    "one verified meanwhile",
    "[postfix][callout]") {
  UnboundServer dns({
      R"(local-zone: "remote.test." static)",
      R"(local-data: "remote.test. 300 IN MX 10 mx.remote.test.")",
      R"(local-data: "mx.remote.test. 300 IN A 127.0.0.20")",
      R"(local-zone: "dead.test." static)",
      R"(local-data: "dead.test. 300 IN MX 10 mx.dead.test.")",
      R"(local-data: "mx.dead.test. 300 IN A 127.0.0.21")",
      R"(local-zone: "slow.test." static)",
      R"(local-data: "slow.test. 300 IN MX 10 mx.slow.test.")",
      R"(local-data: "mx.slow.test. 300 IN A 127.0.0.23")",
  });
  RedisServer redis;
  const unsigned short callout_port = free_tcp_port();

  // The senders' MX hosts: one answers at once, one takes 3 s per RCPT.
  PostfixSettings remote_settings;
  remote_settings.name = "remote";
  remote_settings.hostname = "mx.remote.test";
  remote_settings.listen_address = "127.0.0.20";
  remote_settings.smtp_port = callout_port;
  remote_settings.local_domains = {"remote.test"};
  remote_settings.extra_main_cf = "virtual_mailbox_maps = inline:{ good@remote.test=inbox/ }\n";
  PostfixInstance remote(remote_settings);
  PostfixSettings slow_settings = remote_settings;
  slow_settings.name = "slow";
  slow_settings.hostname = "mx.slow.test";
  slow_settings.listen_address = "127.0.0.23";
  slow_settings.local_domains = {"slow.test"};
  slow_settings.recipient_restrictions = "sleep 3, permit_mynetworks";
  slow_settings.extra_main_cf = "virtual_mailbox_maps = inline:{ good@slow.test=inbox/ }\n";
  PostfixInstance slow(slow_settings);

  PolicydSettings policyd_settings;
  policyd_settings.redis = redis.address();
  policyd_settings.callout = true;
  policyd_settings.dns_servers = dns.address();
  policyd_settings.greylist_delay = 1;
  policyd_settings.extra_top = "local_domains = example.test\nrequest_timeout = 2\n";
  policyd_settings.extra_sections =
      "[callout]\nport = " + std::to_string(callout_port) + "\nhelo = mx1.example.test\n";
  PolicydProcess policyd(policyd_settings);

  PostfixSettings mx_settings;
  mx_settings.name = "mx1";
  mx_settings.recipient_restrictions =
      "permit_mynetworks, reject_unauth_destination, " + policy_service(policyd.port());
  mx_settings.data_restrictions = policy_service(policyd.port());
  PostfixInstance mx(mx_settings);

  SwaksMessage message;
  message.to = {"bob@example.test"};

  message.from = "evilspammer@remote.test";
  auto rejected = mx.send(message);
  INFO(rejected.transcript << "\n--- policyd:\n" << policyd.log());
  CHECK(rejected.transcript.find(
            "550 5.7.1 <bob@example.test>: Recipient address rejected: "
            "<evilspammer@remote.test>... MX 10 'mx.remote.test.' [127.0.0.20] for "
            "<evilspammer@remote.test> rejected address saying \"550 5.1.1 "
            "<evilspammer@remote.test>: Recipient address rejected: User unknown in virtual "
            "mailbox table\"") != std::string::npos);
  CHECK(rejected.exit_code == 24);

  message.from = "someone@dead.test";
  auto unverifiable = mx.send(message);
  INFO(unverifiable.transcript);
  CHECK(unverifiable.transcript.find(
            "450 4.7.1 <bob@example.test>: Recipient address rejected: <bob@example.test>... "
            "from <someone@dead.test> via [127.0.0.100] to <bob@example.test> denied for 1 "
            "seconds") != std::string::npos);

  // The slow MX answers after the request's deadline: the first attempt is
  // tempfailed, the callout finishes meanwhile, and the retry is accepted.
  message.from = "good@slow.test";
  message.headers = {"Subject: verified while greylisted"};
  auto first = mx.send(message);
  INFO(first.transcript);
  CHECK(first.transcript.find("450 4.7.1 <bob@example.test>: Recipient address rejected: "
                              "<bob@example.test>... from <good@slow.test> via [127.0.0.100]") !=
        std::string::npos);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  auto retry = mx.send(message);
  INFO(retry.transcript << "\n--- slow MX:\n" << slow.maillog());
  REQUIRE(retry.exit_code == 0);
  CHECK(retry.transcript.find("250 2.0.0 Ok: queued") != std::string::npos);

  auto delivered = mx.wait_for_delivered(1);
  REQUIRE(mx.wait_until_queue_empty());
  delivered = mx.delivered();
  INFO(mx.diagnostics());
  // Only the accepted message; nothing bounced to a forged sender.
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].headers("Subject") == std::vector<std::string>{"verified while greylisted"});
  CHECK(delivered[0].headers("X-Greylist").size() == 1);
  // The callouts never sent DATA: the senders' MX hosts delivered nothing.
  CHECK(remote.delivered().empty());
  CHECK(slow.delivered().empty());
}

}  // namespace mailsan::test
