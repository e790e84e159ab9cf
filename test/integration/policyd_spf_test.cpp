// SPF (SPEC §2.1 step 4) in the real mailsan-policyd against a real
// redis-server and a real unbound serving the senders' SPF records.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "test/support/policyd_process.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/unbound_server.hpp"

using namespace mailsan::test;
using namespace std::chrono_literals;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// 192.0.2.10 may send for every domain below; any other client may not.
std::vector<std::string> zone_data() {
  return {
      R"(local-zone: "pass.test." static)",
      R"(local-data: 'pass.test. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"')",
      R"(local-zone: "fail.test." static)",
      R"(local-data: 'fail.test. 300 IN TXT "v=spf1 ip4:192.0.2.10 exp=why.fail.test -all"')",
      R"(local-data: 'why.fail.test. 300 IN TXT "%{i} may not send mail for %{d}"')",
      R"(local-zone: "softfail.test." static)",
      R"(local-data: 'softfail.test. 300 IN TXT "v=spf1 ip4:192.0.2.10 ~all"')",
      // Every answer is REFUSED at once: a DNS error, so temperror.
      R"(local-zone: "refused.test." refuse)",
      // SERVFAIL, as from a resolver whose zone servers are dead.
      "servfail-zone: servfail.test.",
      // Queries are dropped: the evaluation outlives its budget.
      R"(local-zone: "dropped.test." deny)",
  };
}

PolicydSettings settings_for(const RedisServer& redis, const UnboundServer& dns,
                             const std::string& spf = "", const std::string& top = "",
                             int greylist_delay = 300) {
  PolicydSettings s;
  s.redis = redis.address();
  s.spf = true;
  s.greylist_delay = greylist_delay;
  s.dns_servers = dns.address();
  s.extra_top = top;
  if (!spf.empty()) s.extra_sections = "[spf]\n" + spf;
  return s;
}

std::map<std::string, std::string> data_request(const std::string& client_ip,
                                                const std::string& sender,
                                                const std::string& instance) {
  auto r = rcpt_request(client_ip, sender, "", instance);
  r["protocol_state"] = "DATA";
  r["recipient_count"] = "1";
  return r;
}

const std::string kGreylisted = "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 300 seconds";

}  // namespace

TEST_CASE("an SPF fail is rejected with 550 5.7.23 and the domain's explanation",
          "[policyd][spf]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns));
  PolicyClient client(policyd.port());
  auto action = client.ask(rcpt_request("192.0.2.99", "alice@fail.test", "bob@example.com"));
  INFO(policyd.log());
  CHECK(action ==
        "550 5.7.23 <alice@fail.test>: SPF check failed: 192.0.2.99 may not send mail for "
        "fail.test");
  // The null sender is checked by its HELO name.
  auto bounce = rcpt_request("192.0.2.99", "", "bob@example.com", "2.3.4");
  bounce["helo_name"] = "fail.test";
  CHECK(starts_with(client.ask(bounce), "550 5.7.23 <postmaster@fail.test>: SPF check failed: "));
  CHECK(policyd.metric("mailsan_policy_check_outcomes_total{check=\"spf\",outcome=\"fail\"}") == 2);
  CHECK(policyd.metric("mailsan_policy_verdicts_total{verdict=\"reject\"}") == 2);
}

TEST_CASE("an SPF pass goes on and its Received-SPF header is prepended once per message",
          "[policyd][spf]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns));
  PolicyClient client(policyd.port());
  // postmaster@ skips greylisting, so the first reply is the header.
  auto first = client.ask(rcpt_request("192.0.2.10", "alice@pass.test", "postmaster@example.com"));
  INFO(first << "\n" << policyd.log());
  CHECK(starts_with(first, "PREPEND Received-SPF: pass "));
  CHECK(contains(first, "192.0.2.10"));
  CHECK(contains(first, "mx1.test"));
  // A second recipient and the DATA stage of that message get nothing more.
  CHECK(client.ask(rcpt_request("192.0.2.10", "alice@pass.test", "abuse@example.com")) == "DUNNO");
  CHECK(client.ask(data_request("192.0.2.10", "alice@pass.test", "1.2.3")) == "DUNNO");
  // The next message gets its own.
  auto next =
      client.ask(rcpt_request("192.0.2.10", "alice@pass.test", "postmaster@example.com", "9.9.9"));
  CHECK(starts_with(next, "PREPEND Received-SPF: pass "));
  CHECK(policyd.metric("mailsan_policy_check_outcomes_total{check=\"spf\",outcome=\"pass\"}") == 3);
}

TEST_CASE("after greylisting, Received-SPF comes first and X-Greylist on the following request",
          "[policyd][spf][greylist]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns, "", "", 1));
  PolicyClient client(policyd.port());
  auto deferred = client.ask(rcpt_request("192.0.2.10", "alice@pass.test", "bob@example.com", "A"));
  INFO(policyd.log());
  CHECK(deferred == "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 1 seconds");
  std::this_thread::sleep_for(1500ms);
  auto rcpt = client.ask(rcpt_request("192.0.2.10", "alice@pass.test", "bob@example.com", "B"));
  CHECK(starts_with(rcpt, "PREPEND Received-SPF: pass "));
  auto data = client.ask(data_request("192.0.2.10", "alice@pass.test", "B"));
  CHECK(starts_with(data, "PREPEND X-Greylist: delayed "));
  CHECK(client.ask(data_request("192.0.2.10", "alice@pass.test", "B")) == "DUNNO");
}

TEST_CASE("an SPF softfail forces greylisting, even for a whitelisted recipient",
          "[policyd][spf][greylist]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns));
  PolicyClient client(policyd.port());
  INFO(policyd.log());
  CHECK(client.ask(rcpt_request("192.0.2.99", "alice@softfail.test", "postmaster@example.com")) ==
        kGreylisted);
  // The same recipient with a sender whose domain has no SPF record is not.
  auto none =
      client.ask(rcpt_request("192.0.2.99", "alice@nospf.test", "postmaster@example.com", "5.6.7"));
  CHECK(starts_with(none, "PREPEND Received-SPF: none"));
  CHECK(policyd.metric("mailsan_policy_check_outcomes_total{check=\"spf\",outcome=\"softfail\"}") ==
        1);
}

TEST_CASE("actions and replies are configurable per result", "[policyd][spf]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(
      redis, dns,
      "fail_action = defer\ndefer_reply = 451 4.7.24 SPF ${result} for <${sender}>\n"
      "softfail_action = reject\nreject_reply = 550 5.7.23 SPF ${result}: ${explanation}\n"
      "header = no\n"));
  PolicyClient client(policyd.port());
  INFO(policyd.log());
  CHECK(client.ask(rcpt_request("192.0.2.99", "alice@fail.test", "bob@example.com")) ==
        "451 4.7.24 SPF fail for <alice@fail.test>");
  CHECK(
      starts_with(client.ask(rcpt_request("192.0.2.99", "alice@softfail.test", "bob@example.com")),
                  "550 5.7.23 SPF softfail: "));
  CHECK(client.ask(rcpt_request("192.0.2.10", "alice@pass.test", "postmaster@example.com")) ==
        "DUNNO");
}

TEST_CASE("a DNS error while checking SPF is a temperror, deferred with 451 4.4.3",
          "[policyd][spf]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns));
  PolicyClient client(policyd.port());
  INFO(policyd.log());
  CHECK(client.ask(rcpt_request("192.0.2.10", "alice@servfail.test", "bob@example.com")) ==
        "451 4.4.3 SPF temporary error");
  CHECK(client.ask(rcpt_request("192.0.2.10", "alice@refused.test", "bob@example.com")) ==
        "451 4.4.3 SPF temporary error");
  CHECK(policyd.metric(
            "mailsan_policy_check_outcomes_total{check=\"spf\",outcome=\"temperror\"}") == 2);
}

TEST_CASE("an SPF evaluation slower than its budget is a temperror answered in time",
          "[policyd][spf]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  // The DNS tries (2 x 2 s) outlast request_timeout: the evaluation gives up
  // 0.5 s before it, and the request still gets SPF's verdict.
  PolicydProcess policyd(
      settings_for(redis, dns, "", "request_timeout = 2\ndns_timeout = 2\ndns_tries = 2\n"));
  PolicyClient client(policyd.port());
  auto start = std::chrono::steady_clock::now();
  auto action = client.ask(rcpt_request("192.0.2.10", "alice@dropped.test", "bob@example.com"));
  auto took = std::chrono::steady_clock::now() - start;
  INFO(policyd.log());
  CHECK(action == "451 4.4.3 SPF temporary error");
  CHECK(took < 2s);
  CHECK(policyd.metric("mailsan_policy_request_timeouts_total") <= 0);
}

TEST_CASE("with [spf] enable = no nothing is asked", "[policyd][spf]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydSettings s = settings_for(redis, dns);
  s.spf = false;
  PolicydProcess policyd(s);
  PolicyClient client(policyd.port());
  CHECK(client.ask(rcpt_request("192.0.2.99", "alice@fail.test", "bob@example.com")) ==
        kGreylisted);
  CHECK(dns.queries_for("fail.test", "TXT") == 0);
}

TEST_CASE("SIGHUP swaps the SPF actions", "[policyd][spf][reload]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns, "fail_action = reject\n"));
  PolicyClient client(policyd.port());
  INFO(policyd.log());
  CHECK(starts_with(client.ask(rcpt_request("192.0.2.99", "alice@fail.test", "bob@example.com")),
                    "550 5.7.23 "));
  auto conf = read_file(policyd.config_path());
  auto pos = conf.find("fail_action = reject");
  REQUIRE(pos != std::string::npos);
  conf.replace(pos, 20, "fail_action = defer\n");
  write_file(policyd.config_path(), conf);
  policyd.process().signal(SIGHUP);
  std::string answer;
  for (int i = 0; i < 50; ++i) {
    answer = client.ask(rcpt_request("192.0.2.99", "alice@fail.test", "bob@example.com"));
    if (answer !=
        "550 5.7.23 <alice@fail.test>: SPF check failed: 192.0.2.99 may not send mail "
        "for fail.test")
      break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(answer == "451 4.4.3 SPF temporary error");
}
