// DNSBL / DNSWL / RHSBL scoring (SPEC §2.1 step 3) in the real mailsan-policyd
// against a real redis-server and a real unbound serving the test's zones.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
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

const std::string kV6Listed = "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0";

std::vector<std::string> zone_data() {
  return {
      // RFC 5782 test points: 127.0.0.2 and ::FFFF:7F00:2 listed, the .1 ones not.
      R"(local-zone: "bl.test." static)",
      R"(local-data: "2.0.0.127.bl.test. 300 IN A 127.0.0.2")",
      R"(local-data: '2.0.0.127.bl.test. 300 IN TXT "listed, see https://bl.test/q?127.0.0.2"')",
      "local-data: \"" + kV6Listed + ".bl.test. 300 IN A 127.0.0.2\"",
      // Return codes for a filter with a range and a list.
      R"(local-zone: "codes.test." static)",
      R"(local-data: "20.2.0.192.codes.test. 300 IN A 127.0.0.4")",
      R"(local-data: "21.2.0.192.codes.test. 300 IN A 127.0.0.12")",
      R"(local-data: "22.2.0.192.codes.test. 300 IN A 127.0.0.15")",
      // A DNSWL.
      R"(local-zone: "wl.test." static)",
      R"(local-data: "30.2.0.192.wl.test. 300 IN A 127.0.10.2")",
      // An RHSBL.
      R"(local-zone: "dbl.test." static)",
      R"(local-data: "spammer.test.dbl.test. 300 IN A 127.0.1.2")",
      R"(local-data: "badhelo.test.dbl.test. 300 IN A 127.0.1.2")",
      // A list whose server never answers.
      R"(local-zone: "dropped.test." deny)",
  };
}

PolicydSettings settings_for(const RedisServer& redis, const UnboundServer& dns,
                             const std::string& rbl, const std::string& top = "") {
  PolicydSettings s;
  s.redis = redis.address();
  s.greylist_delay = 300;
  s.dns_servers = dns.address();
  s.extra_top = top;
  s.extra_sections = "[rbl]\n" + rbl;
  return s;
}

std::map<std::string, std::string> request_from(const std::string& ip,
                                                const std::string& sender = "alice@clean.test",
                                                const std::string& rcpt = "bob@example.com") {
  return rcpt_request(ip, sender, rcpt);
}

const std::string kGreylisted = "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 300 seconds";

}  // namespace

TEST_CASE("the RFC 5782 IPv4 test point is rejected with the zone's TXT reason, .1 is not",
          "[policyd][dnsbl]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns, "zones = bl.test*3\n"));
  PolicyClient client(policyd.port());
  CHECK(client.ask(request_from("127.0.0.2")) ==
        "554 5.7.1 Service unavailable; client [127.0.0.2] blocked using bl.test; "
        "listed, see https://bl.test/q?127.0.0.2");
  CHECK(client.ask(request_from("127.0.0.1")) == kGreylisted);
  CHECK(policyd.metric("mailsan_policy_dnsbl_lookups_total{outcome=\"listed\",zone=\"bl.test\"}") ==
        1);
  CHECK(policyd.metric(
            "mailsan_policy_dnsbl_lookups_total{outcome=\"not_listed\",zone=\"bl.test\"}") == 1);
  CHECK(policyd.metric("mailsan_policy_verdicts_total{verdict=\"reject\"}") == 1);
}

TEST_CASE("the RFC 5782 IPv6 test point is queried as nibbles and listed, ::FFFF:7F00:1 is not",
          "[policyd][dnsbl]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns, "zones = bl.test*3\n"));
  PolicyClient client(policyd.port());
  auto listed = client.ask(request_from("::FFFF:7F00:2"));
  CHECK(starts_with(listed, "554 5.7.1 Service unavailable; client ["));
  CHECK(listed.find("] blocked using bl.test") != std::string::npos);
  CHECK(client.ask(request_from("::FFFF:7F00:1")) == kGreylisted);
  CHECK(dns.queries_for(kV6Listed + ".bl.test", "A") == 1);
}

TEST_CASE("a return-code filter counts only the codes in its range and list", "[policyd][dnsbl]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns, "zones = codes.test=127.0.0.[2..11;15]*3\n"));
  PolicyClient client(policyd.port());
  CHECK(starts_with(client.ask(request_from("192.0.2.20")), "554 5.7.1 "));  // 127.0.0.4
  CHECK(client.ask(request_from("192.0.2.21")) == kGreylisted);              // 127.0.0.12
  CHECK(starts_with(client.ask(request_from("192.0.2.22")), "554 5.7.1 "));  // 127.0.0.15
  // Without a TXT record the reply has no reason.
  CHECK(client.ask(request_from("192.0.2.20")) ==
        "554 5.7.1 Service unavailable; client [192.0.2.20] blocked using codes.test");
}

TEST_CASE("a DNSWL listing with a negative weight skips greylisting", "[policyd][dnsbl]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(
      redis, dns, "zones = bl.test*3, wl.test=127.0.[0..255].[2..3]*-5\nskip_score = -1\n"));
  PolicyClient client(policyd.port());
  CHECK(client.ask(request_from("192.0.2.30")) == "DUNNO");
  CHECK(client.ask(request_from("192.0.2.31")) == kGreylisted);
  CHECK(policyd.metric("mailsan_policy_check_outcomes_total{check=\"dnsbl\",outcome=\"skip\"}") ==
        1);
}

TEST_CASE("an RHSBL lists the sender domain and the HELO name", "[policyd][dnsbl]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns, "rhsbl = dbl.test*3\n"));
  PolicyClient client(policyd.port());
  CHECK(client.ask(request_from("192.0.2.50", "someone@Spammer.Test")) ==
        "554 5.7.1 Service unavailable; client [192.0.2.50] blocked using dbl.test");
  auto helo = request_from("192.0.2.51");
  helo["helo_name"] = "badhelo.test";
  CHECK(starts_with(client.ask(helo),
                    "554 5.7.1 Service unavailable; client [192.0.2.51] blocked using dbl.test"));
  CHECK(client.ask(request_from("192.0.2.52", "someone@clean.test")) == kGreylisted);
  // An address-literal HELO is never asked about.
  auto literal = request_from("192.0.2.53", "");
  literal["helo_name"] = "[192.0.2.53]";
  CHECK(client.ask(literal) == kGreylisted);
  CHECK(dns.queries_for("192.0.2.53.dbl.test", "A") == 0);
}

TEST_CASE("a zone whose server drops queries scores 0 and the request is answered in time",
          "[policyd][dnsbl]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  // The DNS tries (2 x 2 s) outlast request_timeout: the lookups give up
  // before it, so greylisting still decides.
  PolicydProcess policyd(settings_for(redis, dns, "zones = dropped.test*3, bl.test*3\n",
                                      "request_timeout = 3\ndns_timeout = 2\ndns_tries = 2\n"));
  PolicyClient client(policyd.port());
  auto start = std::chrono::steady_clock::now();
  CHECK(client.ask(request_from("192.0.2.40")) == kGreylisted);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(starts_with(client.ask(request_from("127.0.0.2")), "554 5.7.1 "));
  CHECK(policyd.metric(
            "mailsan_policy_dnsbl_lookups_total{outcome=\"timeout\",zone=\"dropped.test\"}") == 2);
  CHECK(policyd.metric("mailsan_policy_request_timeouts_total") == 0);
}

TEST_CASE("a second identical request is answered from the DNS cache", "[policyd][dnsbl]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(redis, dns, "zones = bl.test*3, codes.test\n"));
  PolicyClient client(policyd.port());
  auto first = client.ask(request_from("127.0.0.2"));
  CHECK(client.ask(request_from("127.0.0.2")) == first);
  CHECK(dns.queries_for("2.0.0.127.bl.test", "A") == 1);
  CHECK(dns.queries_for("2.0.0.127.bl.test", "TXT") == 1);
  CHECK(dns.queries_for("2.0.0.127.codes.test", "A") == 1);
  CHECK(policyd.metric("mailsan_policy_dns_cache_hits_total") >= 3);
}

TEST_CASE(
    "a greylist_score forces greylisting with greylist_delay, even for whitelisted recipients",
    "[policyd][dnsbl]") {
  RedisServer redis;
  UnboundServer dns(zone_data());
  PolicydProcess policyd(settings_for(
      redis, dns, "zones = bl.test\ngreylist_score = 1\nreject_score = 3\ngreylist_delay = 900\n"));
  PolicyClient client(policyd.port());
  CHECK(client.ask(request_from("127.0.0.2", "alice@clean.test", "postmaster@example.com")) ==
        "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 900 seconds");
  CHECK(client.ask(request_from("127.0.0.1", "alice@clean.test", "postmaster@example.com")) ==
        "DUNNO");
  CHECK(client.ask(request_from("127.0.0.2")) ==
        "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 900 seconds");
}
