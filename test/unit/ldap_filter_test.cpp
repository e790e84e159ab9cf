// RFC 4515 escaping of values put into LDAP filters: addresses come from
// untrusted SMTP clients, so every special byte must come out as a literal
// match, never as filter syntax.
#include <catch2/catch.hpp>
#include <string>

#include "common/ldap/directory.hpp"

using mailsan::ldap::escape_filter_value;
using mailsan::ldap::make_filter;
using namespace std::string_literals;

TEST_CASE("An ordinary address is left as it is", "[ldap]") {
  CHECK(escape_filter_value("jclark@example.test") == "jclark@example.test");
  CHECK(escape_filter_value("first.last+tag@example.test") == "first.last+tag@example.test");
  CHECK(escape_filter_value("") == "");
}

TEST_CASE("The RFC 4515 special characters are hex-escaped", "[ldap]") {
  CHECK(escape_filter_value("*") == "\\2a");
  CHECK(escape_filter_value("(") == "\\28");
  CHECK(escape_filter_value(")") == "\\29");
  CHECK(escape_filter_value("\\") == "\\5c");
  CHECK(escape_filter_value("\0"s) == "\\00");
}

TEST_CASE("A filter-injection attempt becomes a literal value", "[ldap]") {
  CHECK(escape_filter_value(")(uid=*") == "\\29\\28uid=\\2a");
  CHECK(escape_filter_value("*)(|(objectClass=*") == "\\2a\\29\\28|\\28objectClass=\\2a");
  CHECK(escape_filter_value("a\\2a") == "a\\5c2a");
  CHECK(escape_filter_value("x\0(uid=*)"s) == "x\\00\\28uid=\\2a\\29");
}

TEST_CASE("Control characters and non-ASCII bytes are hex-escaped", "[ldap]") {
  CHECK(escape_filter_value("a\r\nb") == "a\\0d\\0ab");
  CHECK(escape_filter_value("\x7f") == "\\7f");
  CHECK(escape_filter_value("j\xc3\xbcrgen@example.test") == "j\\c3\\bcrgen@example.test");
  CHECK(escape_filter_value("\xff\x80") == "\\ff\\80");
}

TEST_CASE("A very long value is escaped completely", "[ldap]") {
  const std::string value(10000, '*');
  const std::string escaped = escape_filter_value(value);
  REQUIRE(escaped.size() == 30000);
  for (std::size_t i = 0; i < escaped.size(); i += 3) REQUIRE(escaped.compare(i, 3, "\\2a") == 0);
}

TEST_CASE("make_filter replaces every %s with the escaped value", "[ldap]") {
  CHECK(make_filter("(mailLocalAddress=%s)", "jclark@example.test") ==
        "(mailLocalAddress=jclark@example.test)");
  CHECK(make_filter("(|(mail=%s)(mailAlias=%s))", "a*b") == "(|(mail=a\\2ab)(mailAlias=a\\2ab))");
  CHECK(make_filter("(mailLocalAddress=%s)", ")(uid=*") == "(mailLocalAddress=\\29\\28uid=\\2a)");
}

TEST_CASE("make_filter leaves a filter without %s and other percent signs alone", "[ldap]") {
  CHECK(make_filter("(objectClass=*)", "x") == "(objectClass=*)");
  CHECK(make_filter("(cn=100%)", "x") == "(cn=100%)");
  CHECK(make_filter("%s", "") == "");
  CHECK(make_filter("(a=%s", "v") == "(a=v");
  CHECK(make_filter("%s%s", "(") == "\\28\\28");
}

TEST_CASE("make_filter does not re-expand a %s that comes from the value", "[ldap]") {
  CHECK(make_filter("(mail=%s)", "%s") == "(mail=%s)");
}
