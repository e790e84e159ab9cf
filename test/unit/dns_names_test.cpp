// Names the resolver accepts (and how it keys them) and the server entries
// of its options.
#include <catch2/catch.hpp>
#include <string>

#include "common/dns/names.hpp"

using mailsan::dns::normalize_name;
using mailsan::dns::parse_server;

TEST_CASE("Names are lower-cased and lose their trailing dot", "[dns]") {
  CHECK(normalize_name("Mail.Example.TEST.") == "mail.example.test");
  CHECK(normalize_name("mail.example.test") == "mail.example.test");
  CHECK(normalize_name("_spf.example.test") == "_spf.example.test");
  CHECK(normalize_name("2.0.0.127.zen.example") == "2.0.0.127.zen.example");
}

TEST_CASE("Names that cannot be sent as a query are refused", "[dns]") {
  CHECK_FALSE(normalize_name(""));
  CHECK_FALSE(normalize_name("."));
  CHECK_FALSE(normalize_name("a..example.test"));
  CHECK_FALSE(normalize_name(".example.test"));
  CHECK_FALSE(normalize_name("example.test.."));
  CHECK_FALSE(normalize_name(std::string(64, 'a') + ".test"));
  CHECK(normalize_name(std::string(63, 'a') + ".test"));
  CHECK_FALSE(normalize_name("a b.example.test"));
  CHECK_FALSE(normalize_name("a\\.example.test"));
  CHECK_FALSE(normalize_name(std::string("a\0b.test", 8)));
  CHECK_FALSE(normalize_name("\xc3\xa9.example.test"));
}

TEST_CASE("Names longer than 253 characters are refused", "[dns]") {
  std::string name;
  while (name.size() < 253) name += std::string(name.empty() ? 0 : 1, '.') + "abcdefg";
  name.resize(253);
  if (name.back() == '.') name.back() = 'x';
  CHECK(normalize_name(name));
  CHECK(normalize_name(name + "."));
  CHECK_FALSE(normalize_name(name + "x"));
  CHECK_FALSE(normalize_name(std::string(300, 'a')));
}

TEST_CASE("Server entries take an optional port, IPv6 in brackets", "[dns]") {
  auto v4 = parse_server("127.0.0.1:5353");
  REQUIRE(v4);
  CHECK(v4->address.to_string() == "127.0.0.1");
  CHECK(v4->port == 5353);
  CHECK(parse_server("127.0.0.1")->port == 53);
  auto v6 = parse_server("[::1]:5353");
  REQUIRE(v6);
  CHECK(v6->address.v6);
  CHECK(v6->port == 5353);
  CHECK(parse_server("[::1]")->port == 53);
  CHECK(parse_server("::1")->port == 53);
  CHECK(parse_server("2001:db8::53")->address.to_string() == "2001:db8::53");
}

TEST_CASE("Malformed server entries are refused", "[dns]") {
  for (const char* bad : {"", "dns.example.test", "dns.example.test:53",
                          "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:53x", "[::1",
                          "[::1]5353", "[127.0.0.1]:53", "[::1]:", ":53", "127.0.0.1 :53"})
    CHECK_FALSE(parse_server(bad));
}
