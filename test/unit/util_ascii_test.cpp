#include <catch2/catch.hpp>

#include "common/util/ascii.hpp"

using mailsan::util::ascii_lower;
using mailsan::util::iequals;

TEST_CASE("iequals ignores the case of ASCII letters only", "[ascii]") {
  CHECK(iequals("MAIL FROM", "mail from"));
  CHECK(iequals("v=SPF1", "V=spf1"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("auth", "auth "));
  CHECK_FALSE(iequals("mail", "mall"));
}

TEST_CASE("iequals does not fold punctuation that differs from a letter's case by one bit",
          "[ascii]") {
  // '@' (0x40) and '`' (0x60), '[' and '{', '^' and '~' differ only in the
  // bit that separates upper from lower case letters.
  CHECK_FALSE(iequals("@", "`"));
  CHECK_FALSE(iequals("user@example", "user`example"));
  CHECK_FALSE(iequals("[", "{"));
  CHECK_FALSE(iequals("\\", "|"));
  CHECK_FALSE(iequals("]", "}"));
  CHECK_FALSE(iequals("^", "~"));
  CHECK_FALSE(iequals("_", "\x7f"));
  CHECK_FALSE(iequals("\x01", "!"));
}

TEST_CASE("iequals compares bytes at or above 0x80 exactly, whatever the locale", "[ascii]") {
  CHECK(iequals("caf\xc3\xa9", "CAF\xc3\xa9"));
  CHECK_FALSE(iequals("\xc3\xa9", "\xc3\x89"));  // é and É in UTF-8: not ASCII letters
  CHECK_FALSE(iequals("\xc1", "\xe1"));          // Á and á in Latin-1
  CHECK_FALSE(iequals("\x80", "\xa0"));
  CHECK(iequals("\xff", "\xff"));
}

TEST_CASE("ascii_lower lowers A to Z and nothing else", "[ascii]") {
  CHECK(ascii_lower("MX1.Example.COM") == "mx1.example.com");
  CHECK(ascii_lower("@[]^_\xc3\x89") == "@[]^_\xc3\x89");
  for (int c = 0; c < 256; ++c) {
    char ch = static_cast<char>(c);
    char expected = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : ch;
    CHECK(ascii_lower(ch) == expected);
  }
}
