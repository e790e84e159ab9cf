// Whitelists decide before any lookup starts (SPEC §2.1 step 1): a
// whitelisted client or SASL user costs no DNS query, no LDAP search and no
// Redis command. Counted where the queries would arrive: at a real unbound,
// a real slapd and a real redis-server; a client that is not whitelisted,
// asking the same, shows that each of them is asked otherwise.
#include <catch2/catch.hpp>
#include <string>

#include "test/support/policyd_process.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/slapd_server.hpp"
#include "test/support/unbound_server.hpp"

using namespace mailsan::test;

namespace {

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

// Searches under the directory's suffix (the fixture's own readiness probe
// reads the root DSE).
std::size_t directory_searches(const SlapdServer& slapd) {
  return count_of(slapd.log(), std::string("SRCH base=\"") + SlapdServer::suffix + "\"");
}

// Calls of the commands a decision would send (the greylist script, the
// callout cache) that Redis has seen.
std::size_t decision_commands(const RedisServer& redis) {
  std::string stats = redis.cli({"INFO", "commandstats"});
  return count_of(stats, "cmdstat_evalsha:") + count_of(stats, "cmdstat_eval:") +
         count_of(stats, "cmdstat_get:");
}

}  // namespace

TEST_CASE("a whitelisted client or SASL user causes no DNS, LDAP or Redis query",
          "[policyd][whitelist]") {
  RedisServer redis;
  SlapdServer slapd(SlapdServer::jclark_ldif);
  UnboundServer dns({
      R"(local-zone: "bl.test." static)",
      R"(local-data: "2.0.0.127.bl.test. 300 IN A 127.0.0.2")",
      R"(local-zone: "sender.test." static)",
      R"(local-data: 'sender.test. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"')",
      R"(local-data: "sender.test. 300 IN MX 10 mx.sender.test.")",
      R"(local-data: "mx.sender.test. 300 IN A 127.0.0.1")",
  });
  PolicydSettings s;
  s.redis = redis.address();
  s.spf = true;
  s.dns_servers = dns.address();
  s.extra_top = "local_domains = example.test\n";
  s.extra_sections =
      "[rbl]\nzones = bl.test*1\n"
      "[whitelist]\nclients = 127.0.0.2\n"
      "[ldap]\nuri = " +
      slapd.uri() + "\nbase = " + SlapdServer::suffix + "\n";
  PolicydProcess policyd(s);
  PolicyClient client(policyd.port());

  // Listed in bl.test, SPF to evaluate, an unknown local recipient: every
  // lookup would have something to say, but the client is whitelisted.
  CHECK(client.ask(rcpt_request("127.0.0.2", "alice@sender.test", "nobody@example.test")) ==
        "DUNNO");
  auto sasl = rcpt_request("127.0.0.3", "alice@sender.test", "nobody@example.test");
  sasl["sasl_username"] = "alice";
  CHECK(client.ask(sasl) == "DUNNO");

  CHECK(dns.queries_for("2.0.0.127.bl.test", "A") == 0);
  CHECK(dns.queries_for("3.0.0.127.bl.test", "A") == 0);
  CHECK(dns.queries_for("sender.test", "TXT") == 0);
  CHECK(directory_searches(slapd) == 0);
  CHECK(decision_commands(redis) == 0);
  CHECK(policyd.metric(
            "mailsan_policy_check_outcomes_total{check=\"whitelist\",outcome=\"client\"}") == 1);
  CHECK(policyd.metric("mailsan_policy_check_outcomes_total{check=\"whitelist\",outcome=\"sasl_"
                       "authenticated\"}") == 1);

  // The same request from a client that is not whitelisted asks all three.
  CHECK(client.ask(rcpt_request("127.0.0.3", "alice@sender.test", "nobody@example.test")) ==
        "550 5.1.1 User unknown");
  CHECK(dns.queries_for("3.0.0.127.bl.test", "A") == 1);
  CHECK(dns.queries_for("sender.test", "TXT") >= 1);
  CHECK(directory_searches(slapd) >= 1);
  // Known recipient: the request goes on to greylisting, which asks Redis.
  CHECK(client.ask(rcpt_request("127.0.0.3", "alice@sender.test", "jclark@example.test")) ==
        "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 300 seconds");
  CHECK(decision_commands(redis) >= 1);
}
