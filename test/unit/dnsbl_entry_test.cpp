#include "policyd/dnsbl/dnsbl_entry.hpp"

#include <catch2/catch.hpp>

using mailsan::net::IpAddress;
namespace dnsbl = mailsan::policyd::dnsbl;

namespace {

dnsbl::Entry parsed(std::string_view text) {
  std::string error;
  auto entry = dnsbl::parse_entry(text, &error);
  INFO(text << ": " << error);
  REQUIRE(entry);
  return *entry;
}

std::vector<IpAddress> answers(std::initializer_list<const char*> texts) {
  std::vector<IpAddress> out;
  for (const char* t : texts) out.push_back(*IpAddress::parse(t));
  return out;
}

}  // namespace

TEST_CASE("a bare zone has weight 1 and no filter", "[dnsbl]") {
  auto e = parsed("zen.example");
  CHECK(e.zone == "zen.example");
  CHECK(e.weight == 1);
  CHECK_FALSE(e.filter);
  CHECK(e.text == "zen.example");
}

TEST_CASE("weights may be positive, signed or negative", "[dnsbl]") {
  CHECK(parsed("zen.example*2").weight == 2);
  CHECK(parsed("zen.example*+3").weight == 3);
  CHECK(parsed("wl.example*-5").weight == -5);
  CHECK(parsed("zen.example*0").weight == 0);
  CHECK(parsed("zen.example*1000").weight == 1000);
  CHECK(parsed("zen.example*-1000").weight == -1000);
}

TEST_CASE("zones are lower-cased and lose a trailing dot", "[dnsbl]") {
  CHECK(parsed("Zen.Example.").zone == "zen.example");
  CHECK(parsed("single").zone == "single");
  CHECK(parsed("b_l.ex-ample.org").zone == "b_l.ex-ample.org");
}

TEST_CASE("a filter of ranges and lists matches only the return codes it names", "[dnsbl]") {
  auto e = parsed("bl.example=127.0.0.[2..11;15]*2");
  REQUIRE(e.filter);
  CHECK(e.weight == 2);
  CHECK(e.listed_by(answers({"127.0.0.2"})));
  CHECK(e.listed_by(answers({"127.0.0.11"})));
  CHECK(e.listed_by(answers({"127.0.0.15"})));
  CHECK_FALSE(e.listed_by(answers({"127.0.0.1"})));
  CHECK_FALSE(e.listed_by(answers({"127.0.0.12"})));
  CHECK_FALSE(e.listed_by(answers({"127.0.1.2"})));
  CHECK(e.listed_by(answers({"127.0.0.12", "127.0.0.4"})));
  CHECK_FALSE(e.listed_by({}));
}

TEST_CASE("the SPEC's DNSWL entry matches every third octet and 2 or 3 last", "[dnsbl]") {
  auto e = parsed("wl.example=127.0.[0..255].[2..3]*-5");
  CHECK(e.weight == -5);
  CHECK(e.listed_by(answers({"127.0.0.2"})));
  CHECK(e.listed_by(answers({"127.0.255.3"})));
  CHECK_FALSE(e.listed_by(answers({"127.0.10.4"})));
}

TEST_CASE("without a filter any 127/8 answer is a listing and nothing else is", "[dnsbl]") {
  auto e = parsed("zen.example");
  CHECK(e.listed_by(answers({"127.0.0.2"})));
  CHECK(e.listed_by(answers({"127.255.0.10"})));
  CHECK_FALSE(e.listed_by(answers({"192.0.2.1"})));
  CHECK_FALSE(e.listed_by(answers({"::1"})));
  CHECK_FALSE(e.listed_by({}));
}

TEST_CASE("a single-value list and single-number pattern are accepted", "[dnsbl]") {
  auto e = parsed("bl.example=[127].0.0.[2]");
  CHECK(e.listed_by(answers({"127.0.0.2"})));
  CHECK_FALSE(e.listed_by(answers({"127.0.0.3"})));
  CHECK(parsed("bl.example=127.0.0.[0..255]").listed_by(answers({"127.0.0.0"})));
}

TEST_CASE("malformed entries are rejected with a message naming the problem", "[dnsbl]") {
  struct Case {
    const char* text;
    const char* message_part;
  };
  const Case cases[] = {
      {"", "is not a DNS name"},
      {"bl..example", "is not a DNS name"},
      {".bl.example", "is not a DNS name"},
      {"bl.exa mple", "is not a DNS name"},
      {"bl.example*", "weight"},
      {"bl.example*x", "weight"},
      {"bl.example*2x", "weight"},
      {"bl.example*1001", "weight"},
      {"bl.example*-1001", "weight"},
      {"bl.example*+-1", "weight"},
      {"bl.example*-", "weight"},
      {"bl.example=", "not a number"},
      {"bl.example=127.0.0", "four octets"},
      {"bl.example=127.0.0.2.1", "more than four octets"},
      {"bl.example=127.0.0.256", "not a number"},
      {"bl.example=127.0.0.-1", "not a number"},
      {"bl.example=127.0.0.0002", "not a number"},
      {"bl.example=127..0.2", "not a number"},
      {"bl.example=127.0.0.[3..2]", "runs backwards"},
      {"bl.example=127.0.0.[2", "closing ']'"},
      {"bl.example=127.0.0.[]", "not a number"},
      {"bl.example=127.0.0.[2;]", "not a number"},
      {"bl.example=127.0.0.[2..]", "not a number"},
      {"bl.example=127.0.0.[1..2..3]", "not a number"},
      {"bl.example=127.0.0.[[2]]", "inside a [..] pattern"},
      {"=127.0.0.2", "is not a DNS name"},
  };
  for (const auto& c : cases) {
    std::string error;
    INFO(c.text);
    CHECK_FALSE(dnsbl::parse_entry(c.text, &error));
    CHECK_THAT(error, Catch::Contains(c.message_part));
  }
}

TEST_CASE("a zone longer than a DNS name may be is rejected", "[dnsbl]") {
  std::string label(63, 'a');
  std::string name = label + "." + label + "." + label + "." + label;  // 255 bytes
  std::string error;
  CHECK_FALSE(dnsbl::parse_entry(name, &error));
  CHECK_FALSE(dnsbl::parse_entry(std::string(64, 'a') + ".example", &error));
  CHECK(dnsbl::parse_entry(label + ".example", &error));
}
