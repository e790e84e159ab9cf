// The SPF record parser on its own: record selection, every mechanism and
// its arguments, the modifiers, and the malformed records that are
// permerrors.
#include <catch2/catch.hpp>
#include <string>

#include "common/spf/record.hpp"

using mailsan::spf::is_spf_record;
using mailsan::spf::MechanismKind;
using mailsan::spf::parse_record;
using mailsan::spf::Qualifier;
using mailsan::spf::Record;
using mailsan::spf::valid_check_domain;

namespace {

Record parse(const std::string& text) {
  std::string error;
  auto record = parse_record(text, &error);
  INFO(text << ": " << error);
  REQUIRE(record);
  return *record;
}

bool refused(const std::string& text) {
  std::string error;
  bool out = !parse_record(text, &error);
  if (out) CHECK_FALSE(error.empty());
  return out;
}

}  // namespace

TEST_CASE("Only v=spf1 alone or followed by a space is an SPF record", "[spf]") {
  CHECK(is_spf_record("v=spf1"));
  CHECK(is_spf_record("V=SpF1 -all"));
  CHECK_FALSE(is_spf_record("v=spf10"));
  CHECK_FALSE(is_spf_record("v=spf1mx"));
  CHECK_FALSE(is_spf_record("spf2.0/pra"));
  CHECK_FALSE(is_spf_record(""));
}

TEST_CASE("Every mechanism parses with its qualifier and arguments", "[spf]") {
  auto record = parse(
      "v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24//64 mx/30 "
      "ptr ptr:example.com ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{ir}.bl.example.com");
  REQUIRE(record.mechanisms.size() == 10);
  CHECK(record.mechanisms[0].kind == MechanismKind::all);
  CHECK(record.mechanisms[0].qualifier == Qualifier::pass);
  CHECK(record.mechanisms[1].kind == MechanismKind::include);
  CHECK(record.mechanisms[1].qualifier == Qualifier::fail);
  CHECK(record.mechanisms[1].domain_spec == "_spf.example.com");
  CHECK(record.mechanisms[2].qualifier == Qualifier::softfail);
  CHECK(record.mechanisms[2].domain_spec.empty());
  CHECK(record.mechanisms[3].qualifier == Qualifier::neutral);
  CHECK(record.mechanisms[3].domain_spec == "mail.example.com");
  CHECK(record.mechanisms[3].cidr4 == 24);
  CHECK(record.mechanisms[3].cidr6 == 64);
  CHECK(record.mechanisms[4].kind == MechanismKind::mx);
  CHECK(record.mechanisms[4].cidr4 == 30);
  CHECK(record.mechanisms[4].cidr6 == 128);
  CHECK(record.mechanisms[6].domain_spec == "example.com");
  CHECK(record.mechanisms[7].network.to_string() == "192.0.2.0/24");
  CHECK(record.mechanisms[8].network.to_string() == "2001:db8::/32");
  CHECK(record.mechanisms[9].kind == MechanismKind::exists);
  CHECK(record.mechanisms[9].text == "exists:%{ir}.bl.example.com");
  CHECK(parse("v=spf1 a//0").mechanisms[0].cidr6 == 0);
}

TEST_CASE("redirect= and exp= are kept, unknown modifiers ignored", "[spf]") {
  auto record = parse("v=spf1 redirect=_spf.example.com exp=why.%{d} foo=%{l}.bar -all");
  CHECK(record.redirect == "_spf.example.com");
  CHECK(record.explanation == "why.%{d}");
  CHECK(record.mechanisms.size() == 1);
  CHECK(parse("v=spf1").mechanisms.empty());
  CHECK(parse("v=spf1   -all  ").mechanisms.size() == 1);
}

TEST_CASE("Malformed records are refused", "[spf]") {
  CHECK(refused("v=spf1 redirect=a.example.com redirect=b.example.com"));
  CHECK(refused("v=spf1 exp=a.example.com exp=b.example.com"));
  CHECK(refused("v=spf1 exp="));
  CHECK(refused("v=spf1 =foo"));
  CHECK(refused("v=spf1 foo=%"));
  CHECK(refused("v=spf1 all:foo"));
  CHECK(refused("v=spf1 include"));
  CHECK(refused("v=spf1 include:"));
  CHECK(refused("v=spf1 ptr/0"));
  CHECK(refused("v=spf1 ptr:"));
  CHECK(refused("v=spf1 a:example.com/33"));
  CHECK(refused("v=spf1 a//129"));
  CHECK(refused("v=spf1 a/024"));
  CHECK(refused("v=spf1 a:foo.1"));
  CHECK(refused("v=spf1 ip4:192.0.2.0/33"));
  CHECK(refused("v=spf1 ip4:2001:db8::1"));
  CHECK(refused("v=spf1 ip6:192.0.2.1"));
  CHECK(refused("v=spf1 ip4:1.2.3"));
  CHECK(refused("v=spf1 ip4"));
  CHECK(refused("v=spf1 bogus"));
  CHECK(refused("v=spf1 -all\x0dptr"));
  CHECK(refused("v=spf1 a:\xef\xbb\xbfgarbage.example.net"));
  CHECK(refused("v=spf1 exists:foo%.example.com"));
  CHECK(refused("not a record"));
}

TEST_CASE("check_host() starts only with a checkable domain", "[spf]") {
  CHECK(valid_check_domain("example.com"));
  CHECK(valid_check_domain("example.com."));
  CHECK_FALSE(valid_check_domain("A2345678"));
  CHECK_FALSE(valid_check_domain("[192.0.2.1]"));
  CHECK_FALSE(valid_check_domain("a..example.com"));
  CHECK_FALSE(valid_check_domain(std::string(64, 'a') + ".example.com"));
  CHECK(valid_check_domain(std::string(63, 'a') + ".example.com"));
  CHECK_FALSE(valid_check_domain(""));
}
