#include "policyd/dnsbl/dnsbl_names.hpp"

#include <catch2/catch.hpp>

using mailsan::net::IpAddress;
namespace dnsbl = mailsan::policyd::dnsbl;

namespace {

std::string reversed(const char* address, const char* zone) {
  auto ip = IpAddress::parse(address);
  REQUIRE(ip);
  return dnsbl::reversed_ip_name(*ip, zone);
}

using Domains = std::vector<std::string>;

}  // namespace

TEST_CASE("IPv4 clients are queried as reversed octets (RFC 5782 test points)", "[dnsbl]") {
  CHECK(reversed("127.0.0.2", "bl.example") == "2.0.0.127.bl.example");
  CHECK(reversed("127.0.0.1", "bl.example") == "1.0.0.127.bl.example");
  CHECK(reversed("192.0.2.99", "zen.example") == "99.2.0.192.zen.example");
  CHECK(reversed("255.255.255.255", "z") == "255.255.255.255.z");
}

TEST_CASE("IPv6 clients are queried as 32 reversed nibbles", "[dnsbl]") {
  CHECK(reversed("2001:db8:1:2:3:4:567:89ab", "bl.example") ==
        "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example");
  CHECK(reversed("::1", "z") ==
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.z");
}

TEST_CASE("the IPv4-mapped RFC 5782 test points are queried as IPv6 nibbles", "[dnsbl]") {
  CHECK(reversed("::FFFF:7F00:2", "bl.example") ==
        "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example");
  CHECK(reversed("::FFFF:7F00:1", "bl.example") ==
        "1.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example");
}

TEST_CASE("RHSBL asks about the sender domain, HELO name and client name", "[dnsbl]") {
  CHECK(dnsbl::rhsbl_domains("alice@Mail.Example.NET", "mx1.example.org", "host.example.com") ==
        Domains{"mail.example.net", "mx1.example.org", "host.example.com"});
}

TEST_CASE("RHSBL skips the null sender, unknown names and address literals", "[dnsbl]") {
  CHECK(dnsbl::rhsbl_domains("", "", "unknown").empty());
  CHECK(dnsbl::rhsbl_domains("", "[192.0.2.1]", "unknown").empty());
  CHECK(dnsbl::rhsbl_domains("", "192.0.2.1", "").empty());
  CHECK(dnsbl::rhsbl_domains("", "[IPv6:2001:db8::1]", "").empty());
  CHECK(dnsbl::rhsbl_domains("", "UNKNOWN", "").empty());
  CHECK(dnsbl::rhsbl_domains("postmaster", "", "").empty());
  CHECK(dnsbl::rhsbl_domains("bob@", "", "").empty());
}

TEST_CASE("RHSBL leaves out names that are not DNS names and duplicates", "[dnsbl]") {
  CHECK(dnsbl::rhsbl_domains("a@example.net", "bad name!", "Example.NET.") ==
        Domains{"example.net"});
  CHECK(dnsbl::rhsbl_domains("a@b@example.net", "", "") == Domains{"example.net"});
  CHECK(dnsbl::rhsbl_domains("a@x..y", "", "") == Domains{});
}

TEST_CASE("an RHSBL name that would be too long is not built", "[dnsbl]") {
  CHECK(dnsbl::rhsbl_name("example.net", "dbl.example") == "example.net.dbl.example");
  std::string label(63, 'a');
  std::string domain = label + "." + label + "." + label;  // 191 bytes
  CHECK(dnsbl::rhsbl_name(domain, label).empty());
  CHECK_FALSE(dnsbl::rhsbl_name(domain, "dbl.example").empty());
}
