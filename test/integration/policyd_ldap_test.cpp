// Recipient validation (SPEC §2.1 step 2) in the real mailsan-policyd against
// a real slapd holding the seed deployment's entries, and a real redis-server
// for the greylisting that a known recipient goes on to.
//
// The alias filter is given the whole address (not only the local part), so
// the alias entry's cn is the address; docs/configuration.md says the same.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "test/support/policyd_process.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/slapd_server.hpp"

using namespace mailsan::test;
using namespace std::chrono_literals;

namespace {

const std::string kGreylisted = "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 300 seconds";
const std::string kUnknown = "550 5.1.1 User unknown";
const std::string kUnavailable = "451 4.3.0 Recipient lookup temporarily unavailable";
const std::string kAliasFilter = "(&(objectClass=nisMailAlias)(cn=%s))";

// The seed's recipient, an alias, a catch-all for catchall.test and a
// mailbox for postmaster@.
std::string directory_ldif() {
  return SlapdServer::jclark_ldif +
         "\n"
         "dn: cn=sales@example.test,ou=people,dc=example,dc=test\n"
         "objectClass: nisMailAlias\n"
         "cn: sales@example.test\n"
         "rfc822MailMember: jclark@example.test\n"
         "\n"
         "dn: uid=catchall,ou=people,dc=example,dc=test\n"
         "objectClass: account\n"
         "objectClass: inetLocalMailRecipient\n"
         "uid: catchall\n"
         "mailLocalAddress: @catchall.test\n"
         "mailRoutingAddress: everyone@mail.example.test\n"
         "\n"
         "dn: uid=postmaster,ou=people,dc=example,dc=test\n"
         "objectClass: account\n"
         "objectClass: inetLocalMailRecipient\n"
         "uid: postmaster\n"
         "mailLocalAddress: postmaster@example.test\n";
}

PolicydSettings settings_for(const RedisServer& redis, const SlapdServer& slapd,
                             const std::string& ldap = "", const std::string& top = "") {
  PolicydSettings s;
  s.redis = redis.address();
  s.greylist_delay = 300;
  s.extra_top = "local_domains = example.test, catchall.test\n" + top;
  s.extra_sections =
      "[ldap]\nuri = " + slapd.uri() + "\nbase = " + SlapdServer::suffix + "\ntimeout = 1\n" + ldap;
  return s;
}

std::string ask_for(PolicyClient& client, const std::string& rcpt) {
  return client.ask(rcpt_request("192.0.2.10", "alice@sender.test", rcpt));
}

double outcome(const PolicydProcess& policyd, const std::string& name) {
  return policyd.metric("mailsan_policy_check_outcomes_total{check=\"recipient\",outcome=\"" +
                        name + "\"}");
}

}  // namespace

TEST_CASE("a known recipient goes on to greylisting, an unknown one gets 550 5.1.1",
          "[policyd][ldap]") {
  RedisServer redis;
  SlapdServer slapd(directory_ldif());
  PolicydProcess policyd(settings_for(redis, slapd));
  PolicyClient client(policyd.port());
  CHECK(ask_for(client, "jclark@example.test") == kGreylisted);
  CHECK(ask_for(client, "jamie@example.test") == kGreylisted);
  CHECK(ask_for(client, "Jamie@EXAMPLE.test") == kGreylisted);
  CHECK(ask_for(client, "nobody@example.test") == kUnknown);
  // Not a local domain: no opinion, greylisting decides.
  CHECK(ask_for(client, "nobody@example.com") == kGreylisted);
  CHECK(outcome(policyd, "found") == 3);
  CHECK(outcome(policyd, "unknown") == 1);
  CHECK(outcome(policyd, "not_local") == 1);
  CHECK(policyd.metric("mailsan_policy_verdicts_total{verdict=\"reject\"}") == 1);
}

TEST_CASE("a +detail is stripped before the second search", "[policyd][ldap]") {
  RedisServer redis;
  SlapdServer slapd(directory_ldif());
  PolicydProcess policyd(settings_for(redis, slapd));
  PolicyClient client(policyd.port());
  CHECK(ask_for(client, "jclark+lists@example.test") == kGreylisted);
  CHECK(ask_for(client, "jamie+a+b@example.test") == kGreylisted);
  CHECK(ask_for(client, "nobody+lists@example.test") == kUnknown);
}

TEST_CASE("an alias is found only with alias_filter set", "[policyd][ldap]") {
  RedisServer redis;
  SlapdServer slapd(directory_ldif());
  {
    PolicydProcess without(settings_for(redis, slapd));
    PolicyClient client(without.port());
    CHECK(ask_for(client, "sales@example.test") == kUnknown);
  }
  PolicydProcess with(settings_for(redis, slapd, "alias_filter = " + kAliasFilter + "\n"));
  PolicyClient client(with.port());
  CHECK(ask_for(client, "sales@example.test") == kGreylisted);
  CHECK(ask_for(client, "sales+q3@example.test") == kGreylisted);
  CHECK(ask_for(client, "marketing@example.test") == kUnknown);
}

TEST_CASE("a catch-all entry accepts its domain only with allow_catchall = yes",
          "[policyd][ldap]") {
  RedisServer redis;
  SlapdServer slapd(directory_ldif());
  {
    PolicydProcess off(settings_for(redis, slapd));
    PolicyClient client(off.port());
    CHECK(ask_for(client, "anyone@catchall.test") == kUnknown);
  }
  PolicydProcess on(settings_for(redis, slapd, "allow_catchall = yes\n"));
  PolicyClient client(on.port());
  CHECK(ask_for(client, "anyone@catchall.test") == kGreylisted);
  // The catch-all belongs to its own domain only.
  CHECK(ask_for(client, "anyone@example.test") == kUnknown);
}

TEST_CASE("filter metacharacters in the address match literally and find nobody",
          "[policyd][ldap][security]") {
  RedisServer redis;
  SlapdServer slapd(directory_ldif());
  PolicydProcess policyd(
      settings_for(redis, slapd, "alias_filter = " + kAliasFilter + "\nallow_catchall = yes\n"));
  PolicyClient client(policyd.port());
  const std::vector<std::string> injections = {
      "*@example.test",
      "j*@example.test",
      "*clark@example.test",
      ")(uid=*)@example.test",
      "*)(objectClass=*)(mailLocalAddress=*@example.test",
      "jclark)(|(mailLocalAddress=*@example.test",
      "jclark\\00@example.test",
      "jclark\\2a@example.test",
      "sales*@example.test",
      std::string(60, 'a') + "@example.test",
      std::string(1000, 'a') + "@example.test",
      // slapd would stop matching at a NUL and ignore spaces: never searched.
      std::string("jclark\0junk@example.test", 24),
      "jclark\x01@example.test",
      "jclark @example.test",
  };
  for (const auto& rcpt : injections) {
    INFO(rcpt);
    CHECK(ask_for(client, rcpt) == kUnknown);
  }
  // The same requests asked the directory properly: a known one still passes.
  CHECK(ask_for(client, "jclark@example.test") == kGreylisted);
}

TEST_CASE("postmaster@ skips greylisting but is still validated", "[policyd][ldap]") {
  RedisServer redis;
  SlapdServer slapd(directory_ldif());
  PolicydProcess policyd(settings_for(redis, slapd));
  PolicyClient client(policyd.port());
  // Whitelisted by whitelist.recipients (postmaster@, abuse@ by default).
  CHECK(ask_for(client, "postmaster@example.test") == "DUNNO");
  CHECK(ask_for(client, "abuse@example.test") == kUnknown);
}

TEST_CASE("a stopped directory defers with 451 4.3.0 and validation recovers when it returns",
          "[policyd][ldap][failure]") {
  RedisServer redis;
  SlapdServer slapd(directory_ldif());
  PolicydProcess policyd(settings_for(redis, slapd));
  PolicyClient client(policyd.port());
  CHECK(ask_for(client, "jamie@example.test") == kGreylisted);

  slapd.stop();
  CHECK(ask_for(client, "jclark@example.test") == kUnavailable);
  CHECK(ask_for(client, "nobody@example.test") == kUnavailable);
  // What the directory said before it went away is still known: the same
  // triplet again, so greylisting tells the seconds left (300, or 299 once
  // Redis's clock has passed a second).
  CHECK(ask_for(client, "jamie@example.test")
            .rfind("DEFER_IF_PERMIT 4.7.1 Greylisted, retry in ", 0) == 0);
  CHECK(outcome(policyd, "unavailable") == 2);
  CHECK(policyd.metric("mailsan_backend_errors_total{backend=\"ldap\"}") == 2);

  slapd.start();
  // "unavailable" was not cached: the next request asks the directory again
  // and gets a real answer without restarting policyd.
  std::string answer;
  for (int i = 0; i < 50; ++i) {
    answer = ask_for(client, "jclark@example.test");
    if (answer != kUnavailable) break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(answer == kGreylisted);
  CHECK(ask_for(client, "nobody@example.test") == kUnknown);
}

TEST_CASE("a directory that hangs defers with 451 4.3.0 before request_timeout",
          "[policyd][ldap][failure]") {
  RedisServer redis;
  SlapdServer slapd(directory_ldif());
  PolicydProcess policyd(settings_for(redis, slapd, "", "request_timeout = 3\n"));
  PolicyClient client(policyd.port());
  CHECK(ask_for(client, "jamie@example.test") == kGreylisted);
  slapd.pause();
  auto start = std::chrono::steady_clock::now();
  CHECK(ask_for(client, "jclark@example.test") == kUnavailable);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  slapd.resume();
}

TEST_CASE("the cache answers a repeated lookup, found and unknown alike", "[policyd][ldap]") {
  RedisServer redis;
  SlapdServer slapd(directory_ldif());
  PolicydProcess policyd(settings_for(redis, slapd));
  PolicyClient client(policyd.port());
  CHECK(ask_for(client, "jclark@example.test") == kGreylisted);
  CHECK(ask_for(client, "JClark@example.test") == kGreylisted);
  CHECK(ask_for(client, "nobody@example.test") == kUnknown);
  CHECK(ask_for(client, "nobody@example.test") == kUnknown);
  CHECK(policyd.metric("mailsan_policy_ldap_cache_hits_total") == 2);

  // The cache answers even with the directory gone.
  slapd.stop();
  CHECK(ask_for(client, "jclark@example.test") == kGreylisted);
  CHECK(ask_for(client, "nobody@example.test") == kUnknown);
  CHECK(policyd.metric("mailsan_policy_ldap_cache_hits_total") == 4);
}

TEST_CASE("with negative_cache_ttl = 0 an unknown recipient is asked again every time",
          "[policyd][ldap]") {
  RedisServer redis;
  SlapdServer slapd(directory_ldif());
  PolicydProcess policyd(settings_for(redis, slapd, "negative_cache_ttl = 0\n"));
  PolicyClient client(policyd.port());
  CHECK(ask_for(client, "nobody@example.test") == kUnknown);
  CHECK(ask_for(client, "nobody@example.test") == kUnknown);
  CHECK(policyd.metric("mailsan_policy_ldap_cache_hits_total") == 0);
}
