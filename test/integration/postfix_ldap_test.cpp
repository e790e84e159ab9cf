// Recipient validation end to end (SPEC §2.1 step 2): a primary and a backup
// MX, each a real Postfix asking its own mailsan-policyd, both validating
// against one slapd (with one Redis behind them), so that the backup refuses
// an unknown user at RCPT exactly like the primary and never accepts mail it
// would have to bounce later.
#include <catch2/catch.hpp>
#include <string>

#include "test/support/policyd_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/slapd_server.hpp"

namespace mailsan::test {

namespace {

PolicydSettings policyd_settings_for(const RedisServer& redis, const SlapdServer& slapd,
                                     const std::string& hostname) {
  PolicydSettings s;
  s.redis = redis.address();
  s.hostname = hostname;
  s.extra_top = "local_domains = example.test\n";
  // Greylisting is not under test: without it a known recipient is accepted
  // at once.
  s.extra_sections = "[ldap]\nuri = " + slapd.uri() + "\nbase = " + SlapdServer::suffix +
                     "\n[greylist]\nenable = no\n";
  return s;
}

PostfixSettings postfix_settings_for(const std::string& name, const std::string& hostname,
                                     unsigned short policyd_port) {
  PostfixSettings s;
  s.name = name;
  s.hostname = hostname;
  s.recipient_restrictions =
      "permit_mynetworks, reject_unauth_destination, " + policy_service(policyd_port);
  s.data_restrictions = policy_service(policyd_port);
  return s;
}

}  // namespace

TEST_CASE(
    "the primary and the backup MX both refuse an unknown user at RCPT and accept a known one",
    "[postfix][ldap]") {
  RedisServer redis;
  SlapdServer slapd;
  PolicydProcess policyd_primary(policyd_settings_for(redis, slapd, "mx1.test"));
  PolicydProcess policyd_backup(policyd_settings_for(redis, slapd, "mx2.test"));
  PostfixInstance primary(postfix_settings_for("ldap-primary", "mx1.test", policyd_primary.port()));
  PostfixInstance backup(postfix_settings_for("ldap-backup", "mx2.test", policyd_backup.port()));
  REQUIRE(primary.smtp_port() != backup.smtp_port());

  for (const PostfixInstance* mx : {&primary, &backup}) {
    INFO("MX " << mx->settings().name);
    SwaksMessage message;
    message.from = "alice@sender.test";

    message.to = {"nobody@example.test"};
    auto unknown = mx->send(message);
    INFO(unknown.transcript << "\n--- policyd logs:\n"
                            << policyd_primary.log() << "\n"
                            << policyd_backup.log());
    CHECK(unknown.transcript.find(
              "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown") !=
          std::string::npos);
    CHECK(unknown.exit_code == 24);

    message.to = {"jamie@example.test"};
    message.headers = {"Subject: to a known recipient via " + mx->settings().name};
    auto known = mx->send(message);
    INFO(known.transcript);
    CHECK(known.exit_code == 0);
    auto delivered = mx->wait_for_delivered(1);
    REQUIRE(delivered.size() == 1);
    CHECK(delivered.front().recipient == "jamie@example.test");
  }
  // Nothing bounced: the unknown user was refused, never accepted.
  CHECK(primary.delivered().size() == 1);
  CHECK(backup.delivered().size() == 1);
}

}  // namespace mailsan::test
