#include <catch2/catch.hpp>
#include <string>

#include "common/clamav/mime_parts.hpp"

using mailsan::clamav::boundary_lines;
using mailsan::clamav::BoundaryLineCounter;

TEST_CASE("lines that may be MIME boundaries are counted, signature separators are not",
          "[clamav][mime]") {
  CHECK(boundary_lines("") == 0);
  CHECK(boundary_lines("--b\r\n") == 1);
  CHECK(boundary_lines("--b--\r\n") == 1);
  CHECK(boundary_lines("--boundary") == 1);  // at the end, without a line break
  CHECK(boundary_lines("-- \r\nsig\r\n") == 0);
  CHECK(boundary_lines("--\r\n--\n") == 0);
  CHECK(boundary_lines("x--b\r\n --b\r\n-b\r\n") == 0);
  CHECK(boundary_lines("-----\n") == 1);
  CHECK(boundary_lines("a\n--b\n\n--b\r\n--b--") == 3);
}

TEST_CASE("the boundary count is the same fed one byte at a time or in one piece",
          "[clamav][mime]") {
  std::string m = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
  for (int i = 0; i < 1000; ++i) m += "--b\r\nContent-Type: text/plain\r\n\r\n-- x\r\n";
  m += "--b--\r\n";
  BoundaryLineCounter bytewise;
  for (char c : m) bytewise.feed(std::string_view(&c, 1));
  CHECK(bytewise.count() == 1001);
  CHECK(boundary_lines(m) == 1001);
}

TEST_CASE("the cut is where the first boundary line past the limit starts", "[clamav][mime]") {
  std::string m = "head\r\n\r\n--b\r\nx\r\n--b\r\ny\r\n--b--\r\n";
  BoundaryLineCounter unlimited;
  unlimited.feed(m);
  CHECK(unlimited.cut() == BoundaryLineCounter::kNone);
  BoundaryLineCounter two(2);
  two.feed(m);
  CHECK(two.count() == 3);
  CHECK(m.substr(0, two.cut()) == "head\r\n\r\n--b\r\nx\r\n--b\r\ny\r\n");
  BoundaryLineCounter bytewise(1);
  for (char c : m) bytewise.feed(std::string_view(&c, 1));
  CHECK(m.substr(0, bytewise.cut()) == "head\r\n\r\n--b\r\nx\r\n");
  BoundaryLineCounter three(3);
  three.feed(m);
  CHECK(three.cut() == BoundaryLineCounter::kNone);
}
