// The SMTP reply codec on its own: replies fed whole, one byte at a time and
// in random splits, and the malformed and oversized replies a remote MX may
// send (too-long lines, mixed codes, bad codes, too many lines, control
// bytes).
#include <catch2/catch.hpp>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/smtp/reply.hpp"

using mailsan::smtp::Reply;
using mailsan::smtp::ReplyParser;
using Status = ReplyParser::Status;

namespace {

const std::string kEhloReply =
    "250-mx1.example.test Hello client.test\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10240000\r\n"
    "250-8BITMIME\r\n"
    "250 SMTPUTF8\r\n";

struct Parsed {
  std::vector<Reply> replies;
  Status last = Status::incomplete;
  std::string error;
};

// Feeds input in the given piece sizes (the last one repeated) and collects
// every complete reply.
Parsed parse_in_pieces(std::string_view input, const std::vector<std::size_t>& sizes) {
  ReplyParser parser;
  Parsed out;
  std::size_t off = 0;
  for (std::size_t i = 0; off < input.size(); ++i) {
    std::string_view chunk = input.substr(off, sizes[std::min(i, sizes.size() - 1)]);
    off += chunk.size();
    while (!chunk.empty()) {
      std::size_t used = 0;
      out.last = parser.feed(chunk, used);
      REQUIRE(used <= chunk.size());
      chunk.remove_prefix(used);
      if (out.last == Status::error) {
        out.error = std::string(parser.error());
        return out;
      }
      if (out.last == Status::complete) out.replies.push_back(parser.take());
    }
  }
  return out;
}

Parsed parse_whole(std::string_view input) {
  return parse_in_pieces(input, {input.size() + 1});
}

Parsed parse_bytewise(std::string_view input) {
  return parse_in_pieces(input, {1});
}

Parsed parse_random_splits(std::string_view input, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<std::size_t> size(1, 40);
  std::vector<std::size_t> sizes;
  for (std::size_t total = 0; total < input.size(); total += sizes.back())
    sizes.push_back(size(random));
  return parse_in_pieces(input, sizes);
}

// Every way of feeding gives the same replies and the same error.
void check_any_split_agrees(std::string_view input) {
  const Parsed whole = parse_whole(input);
  std::vector<Parsed> others = {parse_bytewise(input)};
  for (unsigned seed = 1; seed <= 20; ++seed) others.push_back(parse_random_splits(input, seed));
  for (const Parsed& other : others) {
    CHECK(other.error == whole.error);
    REQUIRE(other.replies.size() == whole.replies.size());
    for (std::size_t i = 0; i < whole.replies.size(); ++i) {
      CHECK(other.replies[i].code == whole.replies[i].code);
      CHECK(other.replies[i].lines == whole.replies[i].lines);
    }
  }
}

std::string lines_of(int count, std::string_view code = "250") {
  std::string out;
  for (int i = 1; i <= count; ++i)
    out += std::string(code) + (i == count ? " " : "-") + "line " + std::to_string(i) + "\r\n";
  return out;
}

}  // namespace

TEST_CASE("a single-line SMTP reply is parsed into its code and text", "[smtp][reply]") {
  const Parsed p = parse_whole("220 mx1.example.test ESMTP Postfix\r\n");
  REQUIRE(p.last == Status::complete);
  REQUIRE(p.replies.size() == 1);
  const Reply& r = p.replies[0];
  CHECK(r.code == 220);
  CHECK(r.lines == std::vector<std::string>{"mx1.example.test ESMTP Postfix"});
  CHECK(r.text() == "mx1.example.test ESMTP Postfix");
  CHECK(r.positive());
  CHECK_FALSE(r.transient());
  CHECK_FALSE(r.permanent());
  check_any_split_agrees("220 mx1.example.test ESMTP Postfix\r\n");
}

TEST_CASE("a multi-line SMTP reply keeps each line's text and joins them with spaces",
          "[smtp][reply]") {
  const Parsed p = parse_whole(kEhloReply);
  REQUIRE(p.last == Status::complete);
  REQUIRE(p.replies.size() == 1);
  const Reply& r = p.replies[0];
  CHECK(r.code == 250);
  CHECK(r.lines == std::vector<std::string>{"mx1.example.test Hello client.test", "PIPELINING",
                                            "SIZE 10240000", "8BITMIME", "SMTPUTF8"});
  CHECK(r.text() ==
        "mx1.example.test Hello client.test PIPELINING SIZE 10240000 8BITMIME SMTPUTF8");
}

TEST_CASE("an SMTP reply fed one byte at a time or in random splits parses as when fed whole",
          "[smtp][reply]") {
  const Parsed bytewise = parse_bytewise(kEhloReply);
  REQUIRE(bytewise.replies.size() == 1);
  CHECK(bytewise.replies[0].lines.size() == 5);
  check_any_split_agrees(kEhloReply);
  check_any_split_agrees(
      "550-5.1.1 <x@example.test>: Recipient address rejected:\r\n"
      "550 5.1.1 User unknown in virtual mailbox table\r\n"
      "221 2.0.0 Bye\r\n");
}

TEST_CASE("an SMTP reply stays incomplete until its last line has ended", "[smtp][reply]") {
  ReplyParser parser;
  std::size_t used = 0;
  CHECK(parser.feed("250-first\r\n250 last", used) == Status::incomplete);
  CHECK(used == 19);
  CHECK(parser.feed("\r", used) == Status::incomplete);
  CHECK(parser.feed("\n", used) == Status::complete);
  CHECK(parser.take().lines == std::vector<std::string>{"first", "last"});
}

TEST_CASE("a bare LF ends an SMTP reply line like CRLF does", "[smtp][reply]") {
  const Parsed p = parse_whole("250-one\n250-two\r\n250 three\n");
  REQUIRE(p.last == Status::complete);
  REQUIRE(p.replies.size() == 1);
  CHECK(p.replies[0].lines == std::vector<std::string>{"one", "two", "three"});
  check_any_split_agrees("250-one\n250-two\r\n250 three\n");
}

TEST_CASE("an SMTP reply line of only a code is a last line with empty text", "[smtp][reply]") {
  const Parsed p = parse_whole("250-first\r\n250\r\n");
  REQUIRE(p.replies.size() == 1);
  CHECK(p.replies[0].lines == std::vector<std::string>{"first", ""});
  CHECK(p.replies[0].text() == "first ");
}

TEST_CASE("an SMTP reply line of 512 bytes with its CRLF is accepted and one byte more is an error",
          "[smtp][reply]") {
  const std::string longest = "250 " + std::string(506, 'x') + "\r\n";
  REQUIRE(longest.size() == 512);
  const Parsed ok = parse_whole(longest);
  REQUIRE(ok.last == Status::complete);
  CHECK(ok.replies[0].lines[0].size() == 506);

  const std::string too_long = "250 " + std::string(507, 'x') + "\r\n";
  const Parsed p = parse_whole(too_long);
  CHECK(p.last == Status::error);
  CHECK(p.error == "reply line too long");
  check_any_split_agrees(too_long);

  // With a bare LF the limit is the same 512 bytes.
  CHECK(parse_whole("250 " + std::string(507, 'x') + "\n").last == Status::complete);
  CHECK(parse_whole("250 " + std::string(508, 'x') + "\n").last == Status::error);
}

TEST_CASE("an SMTP reply line that never ends is an error as soon as it passes the limit",
          "[smtp][reply]") {
  ReplyParser parser;
  std::size_t used = 0;
  CHECK(parser.feed("250 " + std::string(507, 'x'), used) == Status::incomplete);
  CHECK(parser.feed("y", used) == Status::error);
  CHECK(parser.error() == "reply line too long");
  // The error sticks until reset().
  CHECK(parser.feed("\r\n250 ok\r\n", used) == Status::error);
  CHECK(used == 0);
  parser.reset();
  CHECK(parser.feed("250 ok\r\n", used) == Status::complete);
}

TEST_CASE("SMTP reply lines carrying different codes are an error", "[smtp][reply]") {
  const Parsed p = parse_whole("250-first\r\n251 second\r\n");
  CHECK(p.last == Status::error);
  CHECK(p.error == "reply lines carry different codes");
  CHECK(p.replies.empty());
  check_any_split_agrees("250-first\r\n251 second\r\n");
}

TEST_CASE("SMTP reply codes outside 2xx to 5xx, short lines and bad separators are errors",
          "[smtp][reply]") {
  for (std::string bad :
       {"199 too low\r\n", "600 too high\r\n", "099 no\r\n", "2x0 letters\r\n", "25 short\r\n",
        "\r\n", "abc\r\n", " 250 leading space\r\n", "+250 sign\r\n"}) {
    INFO(bad);
    const Parsed p = parse_whole(bad);
    CHECK(p.last == Status::error);
    CHECK_FALSE(p.error.empty());
  }
  CHECK(parse_whole("250_ok\r\n").error == "bad separator after the reply code");
  CHECK(parse_whole("2500 ok\r\n").error == "bad separator after the reply code");
  CHECK(parse_whole("2x0 ok\r\n").error == "bad reply code");
  CHECK(parse_whole("25\r\n").error == "reply line too short");
}

TEST_CASE("an SMTP reply of 100 lines is accepted and one of 101 lines is an error",
          "[smtp][reply]") {
  const Parsed hundred = parse_whole(lines_of(100));
  REQUIRE(hundred.last == Status::complete);
  CHECK(hundred.replies[0].lines.size() == 100);

  const Parsed p = parse_whole(lines_of(101));
  CHECK(p.last == Status::error);
  CHECK(p.error == "reply has more than 100 lines");
  check_any_split_agrees(lines_of(101));
}

TEST_CASE("non-printable bytes in SMTP reply text are replaced by question marks",
          "[smtp][reply]") {
  const std::string input = std::string("250 a\tb\x1b[31mc\x7f") + '\0' + "d\xc3\xa9\re\r\n";
  const Parsed p = parse_whole(input);
  REQUIRE(p.last == Status::complete);
  CHECK(p.replies[0].lines[0] == "a?b?[31mc??d???e");
  check_any_split_agrees(input);
}

TEST_CASE("the enhanced status code is taken from the start of an SMTP reply's first line",
          "[smtp][reply]") {
  auto status_of = [](const std::string& input) {
    const Parsed p = parse_whole(input);
    REQUIRE(p.replies.size() == 1);
    return p.replies[0].enhanced_status();
  };
  CHECK(status_of("550-5.1.1 <x@example.test>: Recipient address rejected\r\n"
                  "550 5.1.1 User unknown\r\n") == "5.1.1");
  CHECK(status_of("250 2.0.0 Ok: queued as 4Xyz\r\n") == "2.0.0");
  CHECK(status_of("451 4.7.1 Try again later\r\n") == "4.7.1");
  CHECK(status_of("554 5.7.1\r\n") == "5.7.1");
  CHECK(status_of("550 5.100.999 wide\r\n") == "5.100.999");
  CHECK(status_of("250 mx1.example.test\r\n").empty());
  CHECK(status_of("250 2.0 short\r\n").empty());
  CHECK(status_of("550 3.1.1 bad class\r\n").empty());
  CHECK(status_of("550 5.1.1000 too many digits\r\n").empty());
  CHECK(status_of("550 5.1.1x glued\r\n").empty());
  CHECK(status_of("250\r\n").empty());
  CHECK(Reply{}.enhanced_status().empty());
}

TEST_CASE("SMTP reply classes follow the first digit of the code", "[smtp][reply]") {
  Reply r;
  r.code = 354;
  CHECK(r.positive());
  r.code = 421;
  CHECK(r.transient());
  CHECK_FALSE(r.positive());
  r.code = 554;
  CHECK(r.permanent());
  CHECK_FALSE(r.transient());
  CHECK_FALSE(Reply{}.positive());
}

TEST_CASE("two SMTP replies back to back are taken one at a time", "[smtp][reply]") {
  const std::string first = "250 2.1.0 Ok\r\n";
  const std::string second = "250-2.1.5 Ok\r\n250 more\r\n";
  const std::string both = first + second;
  ReplyParser parser;
  std::size_t used = 0;
  REQUIRE(parser.feed(both, used) == Status::complete);
  CHECK(used == first.size());
  // Until take(), the parser holds the first reply and consumes nothing.
  std::size_t again = 99;
  CHECK(parser.feed(std::string_view(both).substr(used), again) == Status::complete);
  CHECK(again == 0);
  CHECK(parser.take().lines == std::vector<std::string>{"2.1.0 Ok"});

  REQUIRE(parser.feed(std::string_view(both).substr(used), again) == Status::complete);
  CHECK(again == second.size());
  const Reply r = parser.take();
  CHECK(r.lines == std::vector<std::string>{"2.1.5 Ok", "more"});
  CHECK(parser.take().code == 0);  // nothing more to take

  const Parsed p = parse_whole(both);
  CHECK(p.replies.size() == 2);
  check_any_split_agrees(both);
}
