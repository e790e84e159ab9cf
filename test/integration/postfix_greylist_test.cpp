// Greylisting end to end: a real Postfix asks a real mailsan-policyd, which
// keeps its state in a real redis-server (SPEC §2.1 step 6). swaks plays the
// sending MTA from 127.0.0.100, outside Postfix's mynetworks.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "test/support/policyd_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"

namespace mailsan::test {
namespace {

using namespace std::chrono_literals;

size_t count_of(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1))
    ++n;
  return n;
}

constexpr int kGreylistDelay = 3;

// policyd serves once Redis is connected or redis_timeout has passed, and
// fails open without Redis (SPEC §2.2); the scenario starts once a throwaway
// triplet from another network is deferred, so a slow Redis start cannot
// turn into a confusing failure below.
void wait_until_greylisting(PolicydProcess& policyd) {
  PolicyClient client(policyd.port());
  const auto until = std::chrono::steady_clock::now() + 10s;
  std::string action;
  while (std::chrono::steady_clock::now() < until) {
    action = client.ask(rcpt_request("192.0.2.1", "probe@readiness.test", "probe@example.test"));
    if (action.rfind("DEFER_IF_PERMIT", 0) == 0) return;
    std::this_thread::sleep_for(50ms);
  }
  FAIL("mailsan-policyd does not greylist; last action: " << action << "\n" << policyd.log());
}

}  // namespace

TEST_CASE("Postfix delivers a plain message when no policy service is wired in", "[postfix]") {
  // Without this one passing, a greylisting failure may be the harness's.
  PostfixSettings settings;
  settings.name = "plain";
  PostfixInstance mx(settings);
  SwaksMessage message;
  message.from = "alice@sender.test";
  message.to = {"bob@example.test"};
  message.headers = {"Subject: plain delivery"};

  auto sent = mx.send(message);
  INFO(sent.transcript);
  REQUIRE(sent.exit_code == 0);
  REQUIRE(sent.transcript.find("250 2.0.0 Ok: queued") != std::string::npos);

  mx.wait_for_delivered(1);
  REQUIRE(mx.wait_until_queue_empty());
  auto delivered = mx.delivered();
  INFO(mx.diagnostics());
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].recipient == "bob@example.test");
  CHECK(delivered[0].sender == "alice@sender.test");
  CHECK(delivered[0].headers("Subject") == std::vector<std::string>{"plain delivery"});
  CHECK(delivered[0].headers("X-Greylist").empty());
}

TEST_CASE(
    "Postfix defers a new triplet at RCPT and delivers the retry after the delay with one "
    "X-Greylist header",
    "[postfix][greylist]") {
  RedisServer redis;
  PolicydSettings policyd_settings;
  policyd_settings.redis = redis.address();
  policyd_settings.greylist_delay = kGreylistDelay;
  policyd_settings.hostname = "mx1.test";
  PolicydProcess policyd(policyd_settings);

  // The shipped wiring: ask at RCPT, and again at DATA so that a header due
  // for the message can still be handed out there.
  PostfixSettings postfix_settings;
  postfix_settings.name = "greylist";
  postfix_settings.recipient_restrictions =
      "permit_mynetworks, reject_unauth_destination, " + policy_service(policyd.port());
  postfix_settings.data_restrictions = policy_service(policyd.port());
  PostfixInstance mx(postfix_settings);
  wait_until_greylisting(policyd);

  // Two recipients: both are greylisted, both pass later, and the message
  // still carries the header once.
  SwaksMessage message;
  message.from = "alice@sender.test";
  message.to = {"bob@example.test", "carol@example.test"};
  message.headers = {"Subject: greylisting end to end"};

  // REQUIRE: the first miss ends the test with the logs printed once.
  auto expect_both_deferred = [&](const SwaksResult& r) {
    INFO(r.transcript << "\n--- policyd log:\n" << policyd.log() << "\n" << mx.diagnostics());
    REQUIRE(count_of(r.transcript, "450 4.7.1") == 2);
    REQUIRE(
        r.transcript.find("450 4.7.1 <bob@example.test>: Recipient address rejected: Greylisted") !=
        std::string::npos);
    REQUIRE(r.transcript.find(
                "450 4.7.1 <carol@example.test>: Recipient address rejected: Greylisted") !=
            std::string::npos);
    REQUIRE(r.transcript.find("-> DATA") == std::string::npos);
    REQUIRE(r.exit_code == 24);  // swaks: every RCPT refused
  };

  const auto first_attempt = std::chrono::steady_clock::now();
  expect_both_deferred(mx.send(message));
  expect_both_deferred(mx.send(message));
  REQUIRE(mx.delivered().empty());

  // A margin over the delay: policyd may count whole seconds of Redis TIME.
  std::this_thread::sleep_until(first_attempt + std::chrono::seconds(kGreylistDelay) + 1500ms);
  auto retry = mx.send(message);
  {
    INFO(retry.transcript << "\n--- policyd log:\n" << policyd.log() << "\n" << mx.diagnostics());
    REQUIRE(retry.exit_code == 0);
    CHECK(count_of(retry.transcript, "250 2.1.5") == 2);
    REQUIRE(retry.transcript.find("250 2.0.0 Ok: queued") != std::string::npos);
  }

  mx.wait_for_delivered(2);
  REQUIRE(mx.wait_until_queue_empty());
  // Nothing beyond the two copies: no bounce, no postmaster notice.
  auto delivered = mx.delivered();
  INFO(mx.diagnostics());
  REQUIRE(delivered.size() == 2);
  std::vector<std::string> recipients;
  for (const auto& copy : delivered) recipients.push_back(copy.recipient);
  std::sort(recipients.begin(), recipients.end());
  CHECK(recipients == std::vector<std::string>{"bob@example.test", "carol@example.test"});
  for (const auto& copy : delivered) {
    INFO(copy.content);
    auto greylist = copy.headers("X-Greylist");
    REQUIRE(greylist.size() == 1);
    CHECK(greylist[0].rfind("delayed ", 0) == 0);
    CHECK(greylist[0].find(" seconds by mailsan-policyd at mx1.test; ") != std::string::npos);
    CHECK(std::stoi(greylist[0].substr(8)) >= kGreylistDelay);
    CHECK(copy.headers("Subject") == std::vector<std::string>{"greylisting end to end"});
  }
}

}  // namespace mailsan::test
