#include <catch2/catch.hpp>

#include "common/util/text_template.hpp"
#include "policyd/greylist/greylist_check.hpp"
#include "policyd/pipeline/transaction.hpp"
#include "policyd/protocol/message_headers.hpp"

using namespace mailsan::policyd;
using mailsan::net::IpAddress;

TEST_CASE("clients of one /24 or /64 share a greylist network", "[greylist]") {
  auto k1 = greylist_keys("mailsan:", *IpAddress::parse("192.0.2.1"), "a@example.net",
                          "b@example.com", 24, 64);
  auto k2 = greylist_keys("mailsan:", *IpAddress::parse("192.0.2.254"), "a@example.net",
                          "b@example.com", 24, 64);
  auto k3 = greylist_keys("mailsan:", *IpAddress::parse("192.0.3.1"), "a@example.net",
                          "b@example.com", 24, 64);
  CHECK(k1.triplet == k2.triplet);
  CHECK(k1.network == "mailsan:awl:{192.0.2.0/24}");
  CHECK(k1.triplet.rfind("mailsan:gl:{192.0.2.0/24}:", 0) == 0);
  CHECK(k1.triplet != k3.triplet);
  auto v6a = greylist_keys("p:", *IpAddress::parse("2001:db8:1:2::1"), "", "b@example.com", 24, 64);
  auto v6b =
      greylist_keys("p:", *IpAddress::parse("2001:db8:1:2:ffff::9"), "", "b@example.com", 24, 64);
  CHECK(v6a.triplet == v6b.triplet);
  CHECK(v6a.network == "p:awl:{2001:db8:1:2::/64}");
  auto mapped =
      greylist_keys("p:", *IpAddress::parse("::ffff:192.0.2.9"), "", "b@example.com", 24, 64);
  CHECK(mapped.network == "p:awl:{192.0.2.0/24}");
}

TEST_CASE("triplet keys use the normalised sender and the lower-cased recipient", "[greylist]") {
  auto ip = *IpAddress::parse("192.0.2.1");
  auto a = greylist_keys("m:", ip, "bounce-123@list.example", "Bob@Example.com", 24, 64);
  auto b = greylist_keys("m:", ip, "BOUNCE-98765@list.example", "bob@example.com", 24, 64);
  auto c = greylist_keys("m:", ip, "other@list.example", "bob@example.com", 24, 64);
  CHECK(a.triplet == b.triplet);
  CHECK(a.triplet != c.triplet);
  // Untrusted text never reaches a key: only the hash does.
  auto evil = greylist_keys("m:", ip, "x}{y\r\n@evil", "a b@c", 24, 64);
  CHECK(evil.triplet.find_first_of(" \r\n@") == std::string::npos);
}

TEST_CASE("a header is handed out once per message, in order", "[greylist]") {
  MessageHeaders h;
  h.begin("1.1.1");
  h.add("X-Greylist: delayed 300 seconds");
  h.add("x-greylist: again");
  h.add("Received-SPF: pass");
  CHECK(h.next() == "X-Greylist: delayed 300 seconds");
  CHECK(h.next() == "Received-SPF: pass");
  CHECK(h.next().empty());
  h.add("X-Greylist: a third time");
  CHECK(h.next().empty());
  h.begin("1.1.1");
  CHECK(h.next().empty());
  h.begin("2.2.2");
  h.add("X-Greylist: next message");
  CHECK(h.next() == "X-Greylist: next message");
}

TEST_CASE("reply templates expand known placeholders and keep unknown ones", "[greylist]") {
  using mailsan::util::expand_template;
  CHECK(expand_template("retry in ${seconds} seconds", {{"seconds", "42"}}) ==
        "retry in 42 seconds");
  CHECK(expand_template("${a}${b}${a}", {{"a", "1"}, {"b", "2"}}) == "121");
  CHECK(expand_template("${typo} ${seconds", {{"seconds", "1"}}) == "${typo} ${seconds");
}

TEST_CASE("the header date is in RFC 5322 form", "[greylist]") {
  CHECK(rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
  CHECK(rfc5322_date(1795743794) == "Fri, 27 Nov 2026 01:43:14 +0000");
}
