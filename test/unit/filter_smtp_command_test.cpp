#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "contentfilter/smtp/command.hpp"

using mailsan::filter::smtp::Command;
using mailsan::filter::smtp::LineReader;
using mailsan::filter::smtp::parameter;
using mailsan::filter::smtp::parse_command;
using mailsan::filter::smtp::parse_mail_from;
using mailsan::filter::smtp::parse_rcpt_to;
using mailsan::filter::smtp::parse_xforward;
using mailsan::filter::smtp::Path;
using mailsan::filter::smtp::Verb;
using mailsan::filter::smtp::verb_name;
using mailsan::filter::smtp::xtext_decode;
using mailsan::filter::smtp::xtext_encode;
using Status = LineReader::Status;

namespace {

// What a LineReader made of a stream: its lines, then the error if any, and
// how many bytes it took in all.
struct Reading {
  std::vector<std::string> lines;
  std::string error;
  std::size_t consumed = 0;

  bool operator==(const Reading&) const = default;
};

Reading read_in_pieces(const std::string& input, const std::vector<std::size_t>& cuts,
                       std::size_t limit = LineReader::kDefaultMaxLineBytes) {
  LineReader reader(limit);
  Reading out;
  std::size_t begin = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    std::size_t end = i < cuts.size() ? cuts[i] : input.size();
    std::string_view chunk = std::string_view(input).substr(begin, end - begin);
    begin = end;
    while (!chunk.empty()) {
      std::size_t used = 0;
      Status s = reader.feed(chunk, used);
      REQUIRE(used <= chunk.size());
      chunk.remove_prefix(used);
      out.consumed += used;
      if (s == Status::error) {
        out.error = std::string(reader.error());
        return out;
      }
      if (s == Status::line) out.lines.emplace_back(reader.line());
      if (s == Status::incomplete) REQUIRE(chunk.empty());
    }
  }
  return out;
}

Reading read_whole(const std::string& input, std::size_t limit = LineReader::kDefaultMaxLineBytes) {
  return read_in_pieces(input, {}, limit);
}

Reading read_bytewise(const std::string& input,
                      std::size_t limit = LineReader::kDefaultMaxLineBytes) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
  return read_in_pieces(input, cuts, limit);
}

// Whole, one byte at a time and in random pieces must all read the same.
Reading read_every_way(const std::string& input,
                       std::size_t limit = LineReader::kDefaultMaxLineBytes) {
  Reading whole = read_whole(input, limit);
  CHECK(read_bytewise(input, limit) == whole);
  std::mt19937 random(12345);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = 0; at < input.size();) {
      at += 1 + random() % 9;
      if (at < input.size()) cuts.push_back(at);
    }
    CHECK(read_in_pieces(input, cuts, limit) == whole);
  }
  return whole;
}

Path mail(std::string_view argument) {
  std::string error;
  auto path = parse_mail_from(argument, &error);
  INFO(argument << ": " << error);
  REQUIRE(path);
  return *path;
}

Path rcpt(std::string_view argument) {
  std::string error;
  auto path = parse_rcpt_to(argument, &error);
  INFO(argument << ": " << error);
  REQUIRE(path);
  return *path;
}

std::string mail_error(std::string_view argument) {
  std::string error;
  auto path = parse_mail_from(argument, &error);
  INFO(argument);
  CHECK_FALSE(path);
  CHECK_FALSE(error.empty());
  return error;
}

std::string rcpt_error(std::string_view argument) {
  std::string error;
  auto path = parse_rcpt_to(argument, &error);
  INFO(argument);
  CHECK_FALSE(path);
  CHECK_FALSE(error.empty());
  return error;
}

}  // namespace

// ---- LineReader

TEST_CASE("the line reader returns CRLF-terminated lines without their CRLF, in any chunking",
          "[filter][smtp]") {
  const std::string session =
      "EHLO mx.example.net\r\n"
      "XFORWARD NAME=mail.example.org ADDR=192.0.2.1 PROTO=ESMTP\r\n"
      "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
      "\r\n"
      "DATA\r\n";
  Reading r = read_every_way(session);
  CHECK(r.error.empty());
  CHECK(r.consumed == session.size());
  REQUIRE(r.lines.size() == 5);
  CHECK(r.lines[0] == "EHLO mx.example.net");
  CHECK(r.lines[2] == "MAIL FROM:<alice@example.org> SIZE=1234");
  CHECK(r.lines[3].empty());
  CHECK(r.lines[4] == "DATA");
}

TEST_CASE("the line reader leaves the bytes after a line to the caller", "[filter][smtp]") {
  LineReader reader;
  std::size_t used = 0;
  std::string_view input = "QUIT\r\nextra";
  REQUIRE(reader.feed(input, used) == Status::line);
  CHECK(used == 6);
  CHECK(reader.line() == "QUIT");
  REQUIRE(reader.feed(input.substr(used), used) == Status::incomplete);
  CHECK(used == 5);
}

TEST_CASE("a line without its end is incomplete, and one ending in CR waits for the LF",
          "[filter][smtp]") {
  LineReader reader;
  std::size_t used = 0;
  CHECK(reader.feed("NOOP", used) == Status::incomplete);
  CHECK(reader.feed("\r", used) == Status::incomplete);
  CHECK(reader.feed("\n", used) == Status::line);
  CHECK(reader.line() == "NOOP");
}

TEST_CASE("a bare LF in a command line is an error, never a line end", "[filter][smtp]") {
  for (const std::string input : {"NOOP\n", "MAIL FROM:<a@b>\nRCPT TO:<c@d>\r\n", "\n"}) {
    INFO(input);
    Reading r = read_every_way(input);
    CHECK(r.lines.empty());
    CHECK(r.error == "bare LF");
  }
}

TEST_CASE("a bare CR in a command line is an error, never a line end", "[filter][smtp]") {
  for (const std::string input : {"NOOP\rQUIT\r\n", "NOOP\r\r\n", "\r.\r\n"}) {
    INFO(input);
    Reading r = read_every_way(input);
    CHECK(r.lines.empty());
    CHECK(r.error == "bare CR");
  }
}

TEST_CASE("lines after a good one are still read up to the error", "[filter][smtp]") {
  Reading r = read_every_way("RSET\r\nNOOP\nQUIT\r\n");
  REQUIRE(r.lines.size() == 1);
  CHECK(r.lines[0] == "RSET");
  CHECK(r.error == "bare LF");
  CHECK(r.consumed == 11);  // up to and including the bare LF
}

TEST_CASE("a line longer than the limit, CRLF included, is an error", "[filter][smtp]") {
  const std::size_t limit = 16;
  std::string fits = std::string(14, 'x') + "\r\n";
  Reading ok = read_every_way(fits, limit);
  REQUIRE(ok.lines.size() == 1);
  CHECK(ok.lines[0].size() == 14);

  std::string too_long = std::string(15, 'x') + "\r\n";
  Reading bad = read_every_way(too_long, limit);
  CHECK(bad.lines.empty());
  CHECK(bad.error == "line too long");
  CHECK(bad.consumed == 15);  // stops at the first byte past the limit

  // Without a line end in sight, the reader does not wait to find out.
  Reading endless = read_every_way(std::string(5000, 'x'));
  CHECK(endless.error == "line too long");
  CHECK(endless.consumed == LineReader::kDefaultMaxLineBytes - 1);
}

TEST_CASE("the default limit takes the long lines Postfix writes", "[filter][smtp]") {
  std::string line = "MAIL FROM:<" + std::string(240, 'a') + "@example.org> SIZE=123456789 " +
                     "BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=" + std::string(100, 'e') + " AUTH=<>";
  Reading r = read_every_way(line + "\r\n");
  REQUIRE(r.lines.size() == 1);
  CHECK(r.lines[0] == line);
}

TEST_CASE("an error sticks until reset, after which reading starts afresh", "[filter][smtp]") {
  LineReader reader;
  std::size_t used = 0;
  REQUIRE(reader.feed("NO\nOP\r\n", used) == Status::error);
  CHECK(used == 3);
  CHECK(reader.feed("QUIT\r\n", used) == Status::error);
  CHECK(used == 0);
  reader.reset();
  CHECK(reader.error().empty());
  REQUIRE(reader.feed("QUIT\r\n", used) == Status::line);
  CHECK(reader.line() == "QUIT");
}

// ---- Commands

TEST_CASE("verbs are recognised in any case, with the rest after one space as the argument",
          "[filter][smtp]") {
  struct Case {
    const char* line;
    Verb verb;
    const char* argument;
  };
  for (const Case& c : std::vector<Case>{
           {"EHLO mx.example.net", Verb::ehlo, "mx.example.net"},
           {"helo mx.example.net", Verb::helo, "mx.example.net"},
           {"XFORWARD NAME=a ADDR=b", Verb::xforward, "NAME=a ADDR=b"},
           {"Mail FROM:<a@b>", Verb::mail, "FROM:<a@b>"},
           {"RCPT TO:<c@d> NOTIFY=NEVER", Verb::rcpt, "TO:<c@d> NOTIFY=NEVER"},
           {"DATA", Verb::data, ""},
           {"rset", Verb::rset, ""},
           {"NOOP  two spaces", Verb::noop, " two spaces"},
           {"QUIT", Verb::quit, ""},
           {"VRFY postmaster", Verb::vrfy, "postmaster"},
           {"BDAT 100 LAST", Verb::bdat, "100 LAST"},
           {"STARTTLS", Verb::starttls, ""},
           {"AUTH PLAIN AGFsaWNlAHNlY3JldA==", Verb::auth, "PLAIN AGFsaWNlAHNlY3JldA=="},
           {"ETRN example.net", Verb::unknown, "example.net"},
           {"", Verb::unknown, ""},
           {" EHLO x", Verb::unknown, "EHLO x"},
           {"EHLOX", Verb::unknown, ""},
           {"DATA ", Verb::data, ""},
       }) {
    INFO(c.line);
    Command command = parse_command(c.line);
    CHECK(command.verb == c.verb);
    CHECK(command.argument == c.argument);
  }
  CHECK(verb_name(Verb::xforward) == "XFORWARD");
  CHECK(verb_name(Verb::unknown) == "UNKNOWN");
}

// ---- MAIL FROM and RCPT TO

TEST_CASE("MAIL FROM keeps the address and every ESMTP parameter in order", "[filter][smtp]") {
  Path p = mail(
      "FROM:<alice@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS "
      "ENVID=QQ314159+2B1 AUTH=<>");
  CHECK(p.address == "alice@example.org");
  CHECK(p.parameters == std::vector<std::string>{"SIZE=1234", "BODY=8BITMIME", "SMTPUTF8",
                                                 "RET=HDRS", "ENVID=QQ314159+2B1", "AUTH=<>"});
  CHECK(parameter(p, "size") == "1234");
  CHECK(parameter(p, "Body") == "8BITMIME");
  CHECK(parameter(p, "SMTPUTF8") == "");
  CHECK(parameter(p, "auth") == "<>");
  CHECK(parameter(p, "ENVID") == "QQ314159+2B1");
  CHECK_FALSE(parameter(p, "NOTIFY"));
  CHECK_FALSE(parameter(p, "SIZ"));
}

TEST_CASE("MAIL FROM with a SIZE that is not 1 to 20 digits is refused (RFC 1870)",
          "[filter][smtp]") {
  std::string empty_error;
  // An empty value is already no parameter at all.
  CHECK_FALSE(parse_mail_from("FROM:<a@example.net> SIZE=", &empty_error));
  CHECK(empty_error == "malformed parameter");
  for (const char* bad : {"SIZE=abc", "SIZE=1e9", "SIZE=0x10", "SIZE", "size=12a", "SIZE=-1",
                          "SIZE=+5", "SIZE=123456789012345678901", "SIZE=1.5"}) {
    INFO(bad);
    std::string error;
    CHECK_FALSE(parse_mail_from(std::string("FROM:<a@example.net> ") + bad, &error));
    CHECK(error == "SIZE must be 1 to 20 digits (RFC 1870)");
  }
  CHECK(mail("FROM:<a@example.net> SIZE=0").parameters == std::vector<std::string>{"SIZE=0"});
  CHECK(parameter(mail("FROM:<a@example.net> size=12345678901234567890"), "SIZE") ==
        "12345678901234567890");
  // Only MAIL carries SIZE; RCPT leaves unknown parameters to the next hop.
  std::string error;
  CHECK(parse_rcpt_to("TO:<b@example.net> SIZE=abc", &error));
}

TEST_CASE("MAIL FROM takes the null sender, any case, and spaces Postfix lets through",
          "[filter][smtp]") {
  CHECK(mail("FROM:<>").address.empty());
  CHECK(mail("FROM:<> BODY=7BIT").parameters == std::vector<std::string>{"BODY=7BIT"});
  CHECK(mail("from:<a@b>").address == "a@b");
  CHECK(mail("From: <a@b>").address == "a@b");
  CHECK(mail(" FROM:<a@b>  SIZE=1 ").parameters == std::vector<std::string>{"SIZE=1"});
  // strict_rfc821_envelopes = no: Postfix forwards an address without <>.
  CHECK(mail("FROM:a@b SIZE=1").address == "a@b");
}

TEST_CASE("RCPT TO keeps NOTIFY and ORCPT and refuses the null path", "[filter][smtp]") {
  Path p = rcpt("TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Bx@example.com");
  CHECK(p.address == "bob@example.com");
  CHECK(parameter(p, "NOTIFY") == "SUCCESS,FAILURE");
  CHECK(parameter(p, "orcpt") == "rfc822;bob+2Bx@example.com");
  CHECK(rcpt("to:<postmaster>").address == "postmaster");
  CHECK(rcpt("TO:<Postmaster@example.com>").address == "Postmaster@example.com");
  rcpt_error("TO:<>");
  rcpt_error("FROM:<a@b>");
  mail_error("TO:<a@b>");
}

TEST_CASE("addresses may be UTF-8 and may have quoted local parts", "[filter][smtp]") {
  CHECK(mail("FROM:<jörg@bücher.example> SMTPUTF8").address == "jörg@bücher.example");
  CHECK(rcpt("TO:<用户@例子.广告>").address == "用户@例子.广告");
  CHECK(mail("FROM:<\"a b\"@example.org>").address == "\"a b\"@example.org");
  CHECK(mail("FROM:<\"a>b<c\"@example.org>").address == "\"a>b<c\"@example.org");
  CHECK(mail("FROM:<\"a\\\"b\"@example.org>").address == "\"a\\\"b\"@example.org");
}

TEST_CASE("a source route is accepted and dropped", "[filter][smtp]") {
  CHECK(rcpt("TO:<@relay.example,@hop.example:bob@example.com>").address == "bob@example.com");
  rcpt_error("TO:<@relay.example>");
  rcpt_error("TO:<@relay.example:>");
}

TEST_CASE("malformed paths are refused with a reason", "[filter][smtp]") {
  CHECK(mail_error("<a@b>") == "expected FROM:<address>");
  CHECK(mail_error("FROM:") == "missing address");
  CHECK(mail_error("FROM:<a@b") == "missing '>' after the address");
  CHECK(mail_error("FROM:a@b>") == "unbalanced angle bracket in address");
  CHECK(mail_error("FROM:<<a@b>>") == "unbalanced angle bracket in address");
  CHECK(mail_error("FROM:<a b@c>") == "space in address");
  CHECK(mail_error("FROM:<a@b>SIZE=1") == "text after '>' that is not a parameter");
  CHECK(mail_error(std::string("FROM:<a\0b@c>", 13)) == "control character in address");
  CHECK(mail_error("FROM:<a\tb@c>") == "control character in address");
  CHECK(mail_error("FROM:<a\x7f@c>") == "control character in address");
  CHECK(mail_error("FROM:<\"a\tb\"@c>") == "control character in address");
  CHECK(mail_error("FROM:<\"ab@c>") == "unterminated quoted string in address");
  CHECK(mail_error("FROM:<\"a\\") == "unterminated quoted string in address");
  CHECK(mail_error("FROM:<a\xff@c>") == "address is not valid UTF-8");
  CHECK(mail_error("FROM:<a\xc3@c>") == "address is not valid UTF-8");
  CHECK(mail_error("FROM:<\xc0\xaf@c>") == "address is not valid UTF-8");      // overlong '/'
  CHECK(mail_error("FROM:<\xed\xa0\x80@c>") == "address is not valid UTF-8");  // surrogate
  // Without brackets the address ends at the first space, quoted or not.
  CHECK(mail_error("FROM:\"a b\"@c") == "unterminated quoted string in address");
}

TEST_CASE("a path is at most 256 bytes, brackets included", "[filter][smtp]") {
  std::string local(64, 'l');
  std::string longest = local + "@" + std::string(254 - 65, 'd');
  REQUIRE(longest.size() == 254);
  CHECK(mail("FROM:<" + longest + ">").address == longest);
  CHECK(mail_error("FROM:<" + longest + "d>") == "path longer than 256 bytes");
  CHECK(mail_error("FROM:" + longest + "dd") == "path longer than 256 bytes");
}

TEST_CASE("parameters must be keyword[=value] in printable ASCII", "[filter][smtp]") {
  CHECK(mail("FROM:<a@b> X-VENDOR-1=a=b+2B").parameters ==
        std::vector<std::string>{"X-VENDOR-1=a=b+2B"});
  for (const std::string bad :
       {"FROM:<a@b> SIZE=", "FROM:<a@b> =1", "FROM:<a@b> -X=1", "FROM:<a@b> SI_ZE=1",
        "FROM:<a@b> SIZE=1\t", "FROM:<a@b> ENVID=\xc3\xa9", "FROM:<a@b> BODY=8BIT\x01"}) {
    INFO(bad);
    CHECK(mail_error(bad) == "malformed parameter");
  }
}

// ---- XFORWARD and xtext

TEST_CASE("XFORWARD attributes come back named in upper case with xtext decoded",
          "[filter][smtp]") {
  std::string error;
  auto attributes = parse_xforward(
      "NAME=mail.example.org ADDR=192.0.2.1 port=25 PROTO=ESMTP HELO=mail+2Bx.example.org "
      "IDENT=4FxYz1abc SOURCE=REMOTE LOGIN=alice+20smith DESTADDR=198.51.100.2 DESTPORT=25 "
      "FUTURE=x",
      &error);
  INFO(error);
  REQUIRE(attributes);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& a : *attributes) got.emplace_back(a.name, a.value);
  CHECK(got == std::vector<std::pair<std::string, std::string>>{
                   {"NAME", "mail.example.org"},
                   {"ADDR", "192.0.2.1"},
                   {"PORT", "25"},
                   {"PROTO", "ESMTP"},
                   {"HELO", "mail+x.example.org"},
                   {"IDENT", "4FxYz1abc"},
                   {"SOURCE", "REMOTE"},
                   {"LOGIN", "alice smith"},
                   {"DESTADDR", "198.51.100.2"},
                   {"DESTPORT", "25"},
                   {"FUTURE", "x"},
               });
}

TEST_CASE("XFORWARD keeps [UNAVAILABLE] and [TEMPUNAVAIL] as they are", "[filter][smtp]") {
  std::string error;
  auto attributes =
      parse_xforward("NAME=[UNAVAILABLE] HELO=[TEMPUNAVAIL] ADDR=IPV6:2001:db8::1", &error);
  REQUIRE(attributes);
  REQUIRE(attributes->size() == 3);
  CHECK((*attributes)[0].value == "[UNAVAILABLE]");
  CHECK((*attributes)[1].value == "[TEMPUNAVAIL]");
  CHECK((*attributes)[2].value == "IPV6:2001:db8::1");
}

TEST_CASE("malformed XFORWARD is refused with a reason", "[filter][smtp]") {
  auto refused = [](std::string_view argument) {
    std::string error;
    auto attributes = parse_xforward(argument, &error);
    INFO(argument);
    CHECK_FALSE(attributes);
    return error;
  };
  CHECK(refused("") == "XFORWARD without attributes");
  CHECK(refused("NAME") == "XFORWARD attribute without '='");
  CHECK(refused("=x") == "XFORWARD attribute without a name");
  CHECK(refused("NAME=") == "XFORWARD attribute without a value");
  CHECK(refused("NA.ME=x") == "malformed XFORWARD attribute name");
  CHECK(refused("HELO=a+") == "malformed xtext: '+' without two hex digits");
  CHECK(refused("HELO=a+2") == "malformed xtext: '+' without two hex digits");
  CHECK(refused("HELO=a+G0") == "malformed xtext: '+' without two hex digits");
  CHECK(refused("HELO=a=b") == "malformed xtext: a byte that must be escaped");
  CHECK(refused("HELO=caf\xc3\xa9") == "malformed xtext: a byte that must be escaped");
  CHECK(refused("HELO=a+0D+0AMAIL") == "control character in an XFORWARD value");
  CHECK(refused("HELO=a+00") == "control character in an XFORWARD value");
}

TEST_CASE("xtext encodes '+', '=', space, controls and 8-bit bytes, and decodes back",
          "[filter][smtp]") {
  CHECK(xtext_encode("mail.example.org") == "mail.example.org");
  CHECK(xtext_encode("a+b=c d") == "a+2Bb+3Dc+20d");
  CHECK(xtext_encode("\r\n\x7f") == "+0D+0A+7F");
  CHECK(xtext_encode("caf\xc3\xa9") == "caf+C3+A9");
  std::string every;
  for (int c = 0; c < 256; ++c) every += static_cast<char>(c);
  std::string error;
  auto back = xtext_decode(xtext_encode(every), &error);
  REQUIRE(back);
  CHECK(*back == every);
  CHECK(xtext_decode("a+2b", &error) == "a+");  // lower-case hex is read too
  CHECK_FALSE(xtext_decode("a b", &error));
}
