#include "common/net/cidr.hpp"

#include <catch2/catch.hpp>

#include "common/net/endpoint_address.hpp"

using mailsan::net::Cidr;
using mailsan::net::IpAddress;
using mailsan::net::parse_endpoint;

TEST_CASE("IPv4 addresses are masked to their network", "[net]") {
  auto ip = IpAddress::parse("192.0.2.17");
  REQUIRE(ip);
  CHECK(ip->masked(24).to_string() == "192.0.2.0");
  CHECK(ip->masked(16).to_string() == "192.0.0.0");
  CHECK(ip->masked(23).to_string() == "192.0.2.0");
  CHECK(IpAddress::parse("192.0.3.255")->masked(23).to_string() == "192.0.2.0");
  CHECK(ip->masked(32).to_string() == "192.0.2.17");
  CHECK(ip->masked(0).to_string() == "0.0.0.0");
  CHECK(ip->masked(99).to_string() == "192.0.2.17");
}

TEST_CASE("IPv6 addresses are masked to their network", "[net]") {
  auto ip = IpAddress::parse("2001:db8:1234:5678:9abc:def0:1234:5678");
  REQUIRE(ip);
  CHECK(ip->v6);
  CHECK(ip->masked(64).to_string() == "2001:db8:1234:5678::");
  CHECK(ip->masked(48).to_string() == "2001:db8:1234::");
  CHECK(ip->masked(60).to_string() == "2001:db8:1234:5670::");
  CHECK(ip->masked(128) == *ip);
}

TEST_CASE("IPv4-mapped IPv6 addresses unmap to IPv4", "[net]") {
  auto ip = IpAddress::parse("::ffff:192.0.2.1");
  REQUIRE(ip);
  CHECK(ip->v6);
  CHECK_FALSE(ip->unmapped().v6);
  CHECK(ip->unmapped().to_string() == "192.0.2.1");
  CHECK(IpAddress::parse("2001:db8::1")->unmapped().v6);
}

TEST_CASE("bad addresses are refused", "[net]") {
  for (const char* bad :
       {"", "unknown", "256.1.1.1", "1.2.3", "1.2.3.4.5", "::g", "1.2.3.4 ", "2001:db8::1::2"})
    CHECK_FALSE(IpAddress::parse(bad));
}

TEST_CASE("networks parse, print canonically and match their members", "[net]") {
  auto net = Cidr::parse("192.0.2.77/24");
  REQUIRE(net);
  CHECK(net->to_string() == "192.0.2.0/24");
  CHECK(net->contains(*IpAddress::parse("192.0.2.1")));
  CHECK_FALSE(net->contains(*IpAddress::parse("192.0.3.1")));
  CHECK_FALSE(net->contains(*IpAddress::parse("2001:db8::1")));
  auto host = Cidr::parse("198.51.100.7");
  REQUIRE(host);
  CHECK(host->prefix_length == 32);
  auto v6 = Cidr::parse("2001:db8::/32");
  REQUIRE(v6);
  CHECK(v6->contains(*IpAddress::parse("2001:db8:ffff::1")));
  for (const char* bad : {"192.0.2.0/33", "192.0.2.0/", "192.0.2.0/x", "2001:db8::/129", "/24"})
    CHECK_FALSE(Cidr::parse(bad));
}

TEST_CASE("endpoint addresses accept inet, tcp, bare and unix forms", "[net]") {
  auto a = parse_endpoint("inet:127.0.0.1:10040");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 10040);
  CHECK(parse_endpoint("tcp:localhost:6379")->host == "localhost");
  CHECK(parse_endpoint("127.0.0.1:9740")->port == 9740);
  auto v6 = parse_endpoint("inet:[::1]:10040");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->to_string() == "inet:[::1]:10040");
  auto u = parse_endpoint("unix:/run/mailsan/policyd.sock");
  REQUIRE(u);
  CHECK(u->path == "/run/mailsan/policyd.sock");
  std::string error;
  CHECK_FALSE(parse_endpoint("inet:127.0.0.1", &error));
  CHECK_FALSE(error.empty());
  auto any = parse_endpoint("127.0.0.1:0", nullptr, mailsan::net::PortZero::allowed);
  REQUIRE(any);
  CHECK(any->port == 0);
  for (const char* bad : {"inet:127.0.0.1:0", "inet:127.0.0.1:65536", "inet::25", "unix:relative",
                          "inet:::1:25", "inet:[::1:25", "inet:h:2x"})
    CHECK_FALSE(parse_endpoint(bad));
}
