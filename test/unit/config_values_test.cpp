#include <catch2/catch.hpp>

#include "common/config/values.hpp"

using namespace mailsan::config;
using std::chrono::seconds;

TEST_CASE("Durations are plain seconds or a number with a unit suffix", "[config]") {
  CHECK(parse_duration("300") == seconds(300));
  CHECK(parse_duration("0") == seconds(0));
  CHECK(parse_duration("45s") == seconds(45));
  CHECK(parse_duration("5m") == seconds(300));
  CHECK(parse_duration("2h") == seconds(7200));
  CHECK(parse_duration("2d") == seconds(172800));
  CHECK(parse_duration("5w") == seconds(3024000));
  CHECK(parse_duration("5M") == seconds(300));
  for (const char* bad : {"", "m", "5x", "-5", "+5", "5 m", "1.5h", "5mm", "abc", " 5"})
    CHECK_THROWS_AS(parse_duration(bad), std::invalid_argument);
  CHECK_THROWS_WITH(parse_duration("5x"), Catch::Contains("'5x' is not a duration"));
  CHECK_THROWS_WITH(parse_duration("99999999999999999w"), Catch::Contains("too large"));
  CHECK_THROWS_WITH(parse_duration("99999999999999999999"), Catch::Contains("too large"));
}

TEST_CASE("Sizes are plain bytes or a number with k, m or g", "[config]") {
  CHECK(parse_size("1000") == 1000);
  CHECK(parse_size("1k") == 1024);
  CHECK(parse_size("50m") == 52428800);
  CHECK(parse_size("2G") == 2147483648);
  for (const char* bad : {"", "k", "10q", "-1", "1.5m", "1kb", "ten"})
    CHECK_THROWS_AS(parse_size(bad), std::invalid_argument);
  CHECK_THROWS_WITH(parse_size("10q"), Catch::Contains("'10q' is not a size"));
  CHECK_THROWS_WITH(parse_size("99999999999g"), Catch::Contains("too large"));
}

TEST_CASE("Booleans accept yes/no, true/false, on/off and 1/0", "[config]") {
  for (const char* yes : {"yes", "YES", "true", "True", "on", "1"}) CHECK(parse_bool(yes));
  for (const char* no : {"no", "No", "false", "off", "OFF", "0"}) CHECK_FALSE(parse_bool(no));
  for (const char* bad : {"", "y", "2", "maybe", "yes please"})
    CHECK_THROWS_AS(parse_bool(bad), std::invalid_argument);
  CHECK_THROWS_WITH(parse_bool("maybe"), "'maybe' is not a boolean (use yes or no)");
}

TEST_CASE("Integers take an optional sign and reject anything else", "[config]") {
  CHECK(parse_integer("0") == 0);
  CHECK(parse_integer("42") == 42);
  CHECK(parse_integer("+7") == 7);
  CHECK(parse_integer("-5") == -5);
  CHECK(parse_integer("9223372036854775807") == INT64_MAX);
  for (const char* bad : {"", "-", "+", "4 2", "0x10", "1e3", "12a", "--1"})
    CHECK_THROWS_AS(parse_integer(bad), std::invalid_argument);
  CHECK_THROWS_WITH(parse_integer("12a"), "'12a' is not an integer");
  CHECK_THROWS_WITH(parse_integer("9223372036854775808"), Catch::Contains("too large"));
}

TEST_CASE("Lists split on commas and blanks and join back the same", "[config]") {
  using V = std::vector<std::string>;
  CHECK(split_list("") == V{});
  CHECK(split_list(" , ,") == V{});
  CHECK(split_list("a") == V{"a"});
  CHECK(split_list("192.0.2.0/24, .example.net") == V{"192.0.2.0/24", ".example.net"});
  CHECK(split_list("a b,c\t d,,e") == V{"a", "b", "c", "d", "e"});
  V items{"postmaster@", "abuse@"};
  CHECK(join_list(items) == "postmaster@, abuse@");
  CHECK(split_list(join_list(items)) == items);
}

TEST_CASE("Durations and sizes are formatted in the largest exact unit", "[config]") {
  CHECK(format_duration(seconds(0)) == "0s");
  CHECK(format_duration(seconds(90)) == "90s");
  CHECK(format_duration(seconds(300)) == "5m");
  CHECK(format_duration(seconds(7200)) == "2h");
  CHECK(format_duration(seconds(172800)) == "2d");
  CHECK(format_duration(seconds(3024000)) == "5w");
  CHECK(format_size(0) == "0");
  CHECK(format_size(1000) == "1000");
  CHECK(format_size(1024) == "1k");
  CHECK(format_size(52428800) == "50m");
  CHECK(format_size(1073741824) == "1g");
  for (std::int64_t s : {0, 1, 59, 60, 61, 3600, 86400, 604800, 1209601})
    CHECK(parse_duration(format_duration(seconds(s))) == seconds(s));
}

TEST_CASE("numbers are decimals with an optional sign and point, shown in their shortest form",
          "[config]") {
  using mailsan::config::format_number;
  using mailsan::config::parse_number;
  CHECK(parse_number("5") == 5.0);
  CHECK(parse_number("-0.5") == -0.5);
  CHECK(parse_number("+12.25") == 12.25);
  for (const char* bad :
       {"", "-", ".5", "5.", "1e3", "nan", "inf", "5 ", "0x10", "1.2.3", "1234567890123"})
    CHECK_THROWS_AS(parse_number(bad), std::invalid_argument);
  CHECK(format_number(5) == "5");
  CHECK(format_number(0.5) == "0.5");
  CHECK(format_number(-12.25) == "-12.25");
  CHECK(parse_number(format_number(6.3)) == 6.3);
}
