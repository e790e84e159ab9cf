#include <catch2/catch.hpp>

#include "policyd/recipient/recipient_cache.hpp"
#include "policyd/recipient/recipient_check.hpp"

using namespace mailsan::policyd;
using namespace std::chrono_literals;

TEST_CASE("a recipient splits into the address, the address without +detail, and the domain",
          "[ldap]") {
  auto r = split_recipient("Jamie+Lists@Example.TEST");
  REQUIRE(r);
  CHECK(r->address == "jamie+lists@example.test");
  CHECK(r->base == "jamie@example.test");
  CHECK(r->domain == "example.test");
  CHECK(split_recipient("jamie@example.test")->base == "jamie@example.test");
  CHECK(split_recipient("+x@example.test")->base == "+x@example.test");
  CHECK(split_recipient("a@b@example.test")->domain == "example.test");
  for (const char* bad : {"", "jamie", "@example.test", "jamie@"})
    CHECK_FALSE(split_recipient(bad));
}

TEST_CASE("the recipient cache keeps found and unknown answers for their own TTLs", "[ldap]") {
  auto now = RecipientCache::Clock::time_point{};
  RecipientCache cache([&] { return now; });
  cache.configure(100, 300s, 60s);
  cache.put("jamie@example.test", RecipientCache::Answer::found);
  cache.put("nobody@example.test", RecipientCache::Answer::unknown);
  CHECK(cache.get("jamie@example.test") == RecipientCache::Answer::found);
  CHECK(cache.get("nobody@example.test") == RecipientCache::Answer::unknown);
  now += 61s;
  CHECK_FALSE(cache.get("nobody@example.test"));
  CHECK(cache.get("jamie@example.test") == RecipientCache::Answer::found);
  now += 240s;
  CHECK_FALSE(cache.get("jamie@example.test"));
}

TEST_CASE("the recipient cache drops the least recently used entry when full", "[ldap]") {
  auto now = RecipientCache::Clock::time_point{};
  RecipientCache cache([&] { return now; });
  cache.configure(2, 300s, 300s);
  cache.put("a@example.test", RecipientCache::Answer::found);
  cache.put("b@example.test", RecipientCache::Answer::found);
  CHECK(cache.get("a@example.test"));  // a is now the most recently used
  cache.put("c@example.test", RecipientCache::Answer::found);
  CHECK(cache.size() == 2);
  CHECK(cache.get("a@example.test"));
  CHECK_FALSE(cache.get("b@example.test"));
  CHECK(cache.get("c@example.test"));
  cache.configure(2, 300s, 300s);  // new filters: nothing cached stays
  CHECK(cache.size() == 0);
}
