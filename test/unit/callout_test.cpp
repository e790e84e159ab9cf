#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "common/util/sha1.hpp"
#include "policyd/callout/callout_check.hpp"
#include "policyd/callout/callout_prober.hpp"
#include "policyd/callout/callout_result.hpp"
#include "policyd/callout/callout_service.hpp"
#include "policyd/callout/domain_limiter.hpp"

using namespace mailsan::policyd;
namespace asio = boost::asio;

TEST_CASE("a callout verdict survives the trip through the cache", "[callout]") {
  CalloutResult r;
  r.verdict = CalloutResult::Verdict::invalid;
  r.mx_preference = 10;
  r.mx_host = "mx.remote.test";
  r.mx_ip = "127.0.0.20";
  r.reply = "550 5.1.1 <evil@remote.test>: Recipient address rejected: User unknown";
  r.reason = "rcpt_rejected";
  auto back = decode_callout_result(encode_callout_result("evil@remote.test", r));
  REQUIRE(back);
  CHECK(back->verdict == CalloutResult::Verdict::invalid);
  CHECK(back->mx_preference == 10);
  CHECK(back->mx_host == r.mx_host);
  CHECK(back->mx_ip == r.mx_ip);
  CHECK(back->reply == r.reply);
  CHECK(back->reason == r.reason);
  for (auto v : {CalloutResult::Verdict::valid, CalloutResult::Verdict::unknown}) {
    r.verdict = v;
    CHECK(decode_callout_result(encode_callout_result("x@y", r))->verdict == v);
  }
}

TEST_CASE("a malformed cache value counts as not cached", "[callout]") {
  for (const char* bad :
       {"", "{", "null", "[]", "\"valid\"", R"({"verdict":"valid"})",
        R"({"verdict":"maybe","preference":0,"mx":"","ip":"","reply":"","reason":""})",
        R"({"verdict":"valid","preference":-1,"mx":"","ip":"","reply":"","reason":""})",
        R"({"verdict":"valid","preference":70000,"mx":"","ip":"","reply":"","reason":""})",
        R"({"verdict":"valid","preference":"10","mx":"","ip":"","reply":"","reason":""})",
        R"({"verdict":"valid","preference":1,"mx":5,"ip":"","reply":"","reason":""})"})
    CHECK_FALSE(decode_callout_result(bad));
}

TEST_CASE("text from a remote MX is reduced to printable ASCII without double quotes",
          "[callout]") {
  CHECK(callout_text_safe("550 \"no\"\r\nsuch user\x01 ") == "550 'no'??such user?");
  CHECK(callout_text_safe(std::string(500, 'a')).size() == 200);
  CHECK(callout_text_safe("caf\xc3\xa9", 10) == "caf??");
  // A cached value is cleaned again when read, whoever wrote it.
  auto back = decode_callout_result(
      R"({"verdict":"invalid","preference":0,"mx":"a\r\nb","ip":"","reply":"x\"y\n","reason":""})");
  REQUIRE(back);
  CHECK(back->mx_host == "a??b");
  CHECK(back->reply == "x'y?");
}

TEST_CASE("only an address that fits RCPT TO:<...> as it is gets called out", "[callout]") {
  CHECK(callout_address_ok("alice@remote.test"));
  CHECK(callout_address_ok("a+b=c@remote.test"));
  CHECK(callout_address_ok("j\xc3\xb6rg@remote.test"));
  for (const char* bad : {"", "alice", "@remote.test", "alice@", "a b@remote.test",
                          "a>@remote.test", "<a@remote.test", "a\r\nDATA@remote.test"})
    CHECK_FALSE(callout_address_ok(bad));
  CHECK_FALSE(callout_address_ok(std::string(250, 'a') + "@x.test"));
}

TEST_CASE("callout cache keys are digests that share one hash tag per address", "[callout]") {
  auto k = callout_keys("mailsan:", "Alice@Remote.TEST");
  CHECK(k.verdict == "mailsan:callout:{" + mailsan::util::sha1_hex("alice@remote.test") + "}");
  CHECK(k.lock == "mailsan:callout-lock:{" + mailsan::util::sha1_hex("alice@remote.test") + "}");
  CHECK(callout_keys("p:", "alice@remote.test").verdict == "p:" + k.verdict.substr(8));
  CHECK(callout_keys("mailsan:", "bob@remote.test").verdict != k.verdict);
}

TEST_CASE("senders exempt from callouts match by address, domain or subdomain", "[callout]") {
  std::vector<std::string> list = {"boss@partner.test", "@friends.test", "bank.test",
                                   ".lists.test"};
  CHECK(sender_exempt(list, "Boss@Partner.TEST"));
  CHECK_FALSE(sender_exempt(list, "other@partner.test"));
  CHECK(sender_exempt(list, "anyone@friends.test"));
  CHECK_FALSE(sender_exempt(list, "anyone@sub.friends.test"));
  CHECK(sender_exempt(list, "anyone@bank.test"));
  CHECK_FALSE(sender_exempt(list, "anyone@notbank.test"));
  CHECK(sender_exempt(list, "x@a.lists.test"));
  CHECK_FALSE(sender_exempt(list, "x@lists.test"));
  CHECK_FALSE(sender_exempt({}, "x@lists.test"));
}

TEST_CASE("the domain limiter lets max_per_domain callouts run and queues the rest in order",
          "[callout]") {
  asio::io_context io;
  DomainLimiter limiter(io.get_executor(), 2);
  std::vector<int> order;
  std::vector<std::unique_ptr<DomainLimiter::Slot>> held;
  for (int i = 0; i < 4; ++i)
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          DomainLimiter::Slot slot = co_await limiter.acquire("remote.test");
          order.push_back(i);
          held.push_back(std::make_unique<DomainLimiter::Slot>(std::move(slot)));
        },
        asio::detached);
  // Another domain is not held up by this one.
  bool other = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        DomainLimiter::Slot slot = co_await limiter.acquire("elsewhere.test");
        other = true;
      },
      asio::detached);
  io.poll();
  CHECK(order == std::vector<int>{0, 1});
  CHECK(other);
  CHECK(limiter.active("remote.test") == 2);
  held.erase(held.begin());
  io.poll();
  CHECK(order == std::vector<int>{0, 1, 2});
  CHECK(limiter.active("remote.test") == 2);
  held.clear();
  io.poll();
  CHECK(order == std::vector<int>{0, 1, 2, 3});
  held.clear();
  io.poll();
  CHECK(limiter.active("remote.test") == 0);
}
