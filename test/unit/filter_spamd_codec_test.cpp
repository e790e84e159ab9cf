// The spamd protocol codec: request heads, and responses fed whole and one
// byte at a time (the replies quoted are what Debian's spamd 4.0.1 sends).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "contentfilter/spamd/spamd_codec.hpp"

using mailsan::filter::encode_spamd_request;
using mailsan::filter::parse_spamd_processed_head;
using mailsan::filter::sanitize_rule_name;
using mailsan::filter::spamd_user_value;
using mailsan::filter::SpamdCommand;
using mailsan::filter::SpamdMessageClass;
using mailsan::filter::SpamdResponse;
using mailsan::filter::SpamdResponseParser;
using mailsan::filter::SpamdTell;
using mailsan::filter::sysexits_name;
using Status = SpamdResponseParser::Status;

namespace {

struct Parsed {
  Status status = Status::incomplete;
  std::string error;
  SpamdResponse response;
  std::size_t consumed = 0;
};

// Feeds `input` in pieces of `step` bytes, then the end of the stream when
// `closed` (spamd closes after replying).
Parsed parse(const std::string& input, SpamdCommand command, std::size_t step, bool closed = true,
             SpamdResponseParser::Limits limits = {}) {
  SpamdResponseParser parser(command, limits);
  Parsed out;
  for (std::size_t off = 0; off < input.size(); off += step) {
    std::size_t used = 0;
    out.status = parser.feed(std::string_view(input).substr(off, step), used);
    out.consumed += used;
    if (out.status != Status::incomplete) break;
  }
  if (closed) out.status = parser.finish();
  out.error = std::string(parser.error());
  if (out.status == Status::complete) out.response = parser.take();
  return out;
}

void same(const Parsed& a, const Parsed& b) {
  CHECK(a.status == b.status);
  CHECK(a.error == b.error);
  // Where an error is noticed depends on the pieces; where a response ends does not.
  if (a.status == Status::complete) CHECK(a.consumed == b.consumed);
  CHECK(a.response.version == b.response.version);
  CHECK(a.response.code == b.response.code);
  CHECK(a.response.message == b.response.message);
  CHECK(a.response.spam == b.response.spam);
  CHECK(a.response.score == b.response.score);
  CHECK(a.response.threshold == b.response.threshold);
  CHECK(a.response.rules == b.response.rules);
  CHECK(a.response.body == b.response.body);
  CHECK(a.response.body_bytes == b.response.body_bytes);
  CHECK(a.response.did_set == b.response.did_set);
  CHECK(a.response.did_remove == b.response.did_remove);
}

// Whole and byte at a time must agree; returns the whole parse.
Parsed parse_both(const std::string& input, SpamdCommand command, bool closed = true,
                  SpamdResponseParser::Limits limits = {}) {
  Parsed whole = parse(input, command, input.size() + 1, closed, limits);
  Parsed bytes = parse(input, command, 1, closed, limits);
  same(whole, bytes);
  return whole;
}

const std::string kGtubeSymbols =
    "SPAMD/1.1 0 EX_OK\r\nContent-length: 68\r\nSpam: True ; 1002.7 / 5.0\r\n\r\n"
    "GTUBE,MISSING_DATE,MSGID_SHORT,NO_RECEIVED,NO_RELAYS,TVD_SPACE_RATIO";

const std::string kHamProcessBody =
    "X-Spam-Checker-Version: SpamAssassin 4.0.1 (2024-03-25) on vm\r\n"
    "X-Spam-Level: ***\r\n"
    "X-Spam-Status: No, score=3.3 required=5.0 tests=MISSING_DATE,MISSING_MID,\r\n"
    "\tNO_RECEIVED,NO_RELAYS autolearn=disabled version=4.0.1\r\n"
    "Subject: lunch\r\nFrom: a@b.test\r\nTo: bob@example.test\r\n\r\n"
    "Shall we meet for lunch tomorrow?\r\n";

}  // namespace

TEST_CASE("request heads carry the command, Content-length and User", "[spamd][codec]") {
  CHECK(encode_spamd_request(SpamdCommand::symbols, "bob", 1234) ==
        "SYMBOLS SPAMC/1.5\r\nContent-length: 1234\r\nUser: bob\r\n\r\n");
  CHECK(encode_spamd_request(SpamdCommand::process, "", 0) ==
        "PROCESS SPAMC/1.5\r\nContent-length: 0\r\n\r\n");
  CHECK(encode_spamd_request(SpamdCommand::check, "bob@example.test", 5) ==
        "CHECK SPAMC/1.5\r\nContent-length: 5\r\nUser: bob@example.test\r\n\r\n");
  // Protocol 1.5 PING still ends with an empty header block.
  CHECK(encode_spamd_request(SpamdCommand::ping, "bob", 99) == "PING SPAMC/1.5\r\n\r\n");
}

TEST_CASE("TELL asks to learn as spam or ham, or to forget", "[spamd][codec]") {
  SpamdTell spam;
  CHECK(encode_spamd_request(SpamdCommand::tell, "", 10, spam) ==
        "TELL SPAMC/1.5\r\nContent-length: 10\r\nMessage-class: spam\r\nSet: local\r\n\r\n");
  SpamdTell ham;
  ham.message_class = SpamdMessageClass::ham;
  CHECK(encode_spamd_request(SpamdCommand::tell, "bob", 10, ham) ==
        "TELL SPAMC/1.5\r\nContent-length: 10\r\nUser: bob\r\nMessage-class: ham\r\n"
        "Set: local\r\n\r\n");
  SpamdTell forget;
  forget.set_local = false;
  forget.remove_local = true;
  CHECK(encode_spamd_request(SpamdCommand::tell, "", 3, forget) ==
        "TELL SPAMC/1.5\r\nContent-length: 3\r\nMessage-class: spam\r\nRemove: local\r\n\r\n");
}

TEST_CASE("a User value can neither break the request nor leave the user directory",
          "[spamd][codec]") {
  CHECK(spamd_user_value("bob") == "bob");
  CHECK(spamd_user_value("bob+tag@example.test") == "bob+tag@example.test");
  CHECK(spamd_user_value("bob\r\nContent-length: 0") == "bob__Content-length__0");
  CHECK(spamd_user_value("../etc") == "_._etc");
  CHECK(spamd_user_value("..") == "_.");
  CHECK(spamd_user_value("\"john doe\"") == "_john_doe_");
  CHECK(spamd_user_value(std::string(1000, 'a')).size() == 256);
  CHECK(encode_spamd_request(SpamdCommand::symbols, "a\nb", 1) ==
        "SYMBOLS SPAMC/1.5\r\nContent-length: 1\r\nUser: a_b\r\n\r\n");
}

TEST_CASE("SYMBOLS: the Spam header and the rules that hit", "[spamd][codec]") {
  Parsed p = parse_both(kGtubeSymbols, SpamdCommand::symbols);
  REQUIRE(p.status == Status::complete);
  CHECK(p.consumed == kGtubeSymbols.size());
  CHECK(p.response.ok());
  CHECK(p.response.version == "1.1");
  CHECK(p.response.message == "EX_OK");
  CHECK(p.response.has_spam_header);
  CHECK(p.response.spam);
  CHECK(p.response.score == Approx(1002.7));
  CHECK(p.response.threshold == Approx(5.0));
  CHECK(p.response.content_length == 68u);
  CHECK(p.response.rules == std::vector<std::string>{"GTUBE", "MISSING_DATE", "MSGID_SHORT",
                                                     "NO_RECEIVED", "NO_RELAYS",
                                                     "TVD_SPACE_RATIO"});
}

TEST_CASE("SYMBOLS completes at Content-length without waiting for the close", "[spamd][codec]") {
  Parsed p = parse_both(kGtubeSymbols + "trailing", SpamdCommand::symbols, false);
  REQUIRE(p.status == Status::complete);
  CHECK(p.consumed == kGtubeSymbols.size());
  CHECK(p.response.rules.size() == 6);
}

TEST_CASE("SYMBOLS for ham, with negative scores and no rules", "[spamd][codec]") {
  Parsed p = parse_both(
      "SPAMD/1.1 0 EX_OK\r\nContent-length: 46\r\nSpam: False ; 3.3 / 5.0\r\n\r\n"
      "MISSING_DATE,MISSING_MID,NO_RECEIVED,NO_RELAYS",
      SpamdCommand::symbols);
  REQUIRE(p.status == Status::complete);
  CHECK_FALSE(p.response.spam);
  CHECK(p.response.score == Approx(3.3));
  CHECK(p.response.rules.size() == 4);

  p = parse_both("SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: False ; -1.9 / 5.0\r\n\r\n",
                 SpamdCommand::symbols, false);
  REQUIRE(p.status == Status::complete);
  CHECK(p.response.score == Approx(-1.9));
  CHECK(p.response.rules.empty());
}

TEST_CASE("SYMBOLS from old spamds: no Content-length, body to the close, CRLF after it",
          "[spamd][codec]") {
  const std::string reply = "SPAMD/1.1 0 EX_OK\nSpam: Yes ; 15 / 5\n\nGTUBE, NO_RECEIVED\r\n\r\n";
  Parsed open = parse_both(reply, SpamdCommand::symbols, false);
  CHECK(open.status == Status::incomplete);
  Parsed p = parse_both(reply, SpamdCommand::symbols);
  REQUIRE(p.status == Status::complete);
  CHECK(p.response.spam);
  CHECK(p.response.score == 15);
  CHECK(p.response.rules == std::vector<std::string>{"GTUBE", "NO_RECEIVED"});
}

TEST_CASE("rule names are reduced to what a header may carry", "[spamd][codec]") {
  Parsed p = parse_both(
      "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 6 / 5\r\n\r\nGOOD_1,BAD RULE\r\nX-Evil: 1,,\x01\xff,  ,"
      "T_OK",
      SpamdCommand::symbols);
  REQUIRE(p.status == Status::complete);
  CHECK(p.response.rules ==
        std::vector<std::string>{"GOOD_1", "BAD_RULE__X_Evil__1", "__", "T_OK"});
  CHECK(sanitize_rule_name(std::string(500, 'R')).size() == 128);
  CHECK(sanitize_rule_name("a-b.c") == "a_b_c");
}

TEST_CASE("CHECK ends with the headers", "[spamd][codec]") {
  Parsed p = parse_both("SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1002.7 / 5.0\r\n\r\n",
                        SpamdCommand::check, false);
  REQUIRE(p.status == Status::complete);
  CHECK(p.response.spam);
  CHECK(p.response.score == Approx(1002.7));
  CHECK(p.response.body.empty());
}

TEST_CASE("PROCESS: the rewritten message, whose head gives rules and spamd's headers",
          "[spamd][codec]") {
  const std::string reply =
      "SPAMD/1.1 0 EX_OK\r\nContent-length: " + std::to_string(kHamProcessBody.size()) +
      "\r\nSpam: False ; 3.3 / 5.0\r\n\r\n" + kHamProcessBody;
  Parsed p = parse_both(reply, SpamdCommand::process, false);
  REQUIRE(p.status == Status::complete);
  CHECK(p.response.body == kHamProcessBody);
  CHECK(p.response.body_bytes == kHamProcessBody.size());
  CHECK(p.response.rules.empty());  // PROCESS has no rule list of its own
  auto head = parse_spamd_processed_head(p.response.body);
  CHECK(head.rules ==
        std::vector<std::string>{"MISSING_DATE", "MISSING_MID", "NO_RECEIVED", "NO_RELAYS"});
  CHECK(head.headers == std::vector<std::string>{"X-Spam-Level: ***"});
}

TEST_CASE("PROCESS keeps only the head's worth of a long body, and counts the rest",
          "[spamd][codec]") {
  const std::string body = kHamProcessBody + std::string(5000, 'x');
  const std::string reply = "SPAMD/1.1 0 EX_OK\r\nContent-length: " + std::to_string(body.size()) +
                            "\r\nSpam: False ; 3.3 / 5.0\r\n\r\n" + body;
  SpamdResponseParser::Limits limits;
  limits.max_kept_body = 1000;
  Parsed p = parse_both(reply, SpamdCommand::process, false, limits);
  REQUIRE(p.status == Status::complete);
  CHECK(p.response.body == body.substr(0, 1000));
  CHECK(p.response.body_bytes == body.size());
}

TEST_CASE("the processed head: folded tests list, tests=none, a report header", "[spamd][codec]") {
  auto head = parse_spamd_processed_head(
      "X-Spam-Flag: YES\nX-Spam-Status: Yes, score=1000.0 required=5.0 tests=GTUBE,\n"
      "\tNO_RELAYS autolearn=no\nX-Spam-Report: \n\t*  1000 GTUBE BODY: Generic Test\n"
      "\t*  -0.0 NO_RELAYS \x01 relayed\n\t \nSubject: x\n\nX-Spam-Level: not the head\n");
  CHECK(head.rules == std::vector<std::string>{"GTUBE", "NO_RELAYS"});
  REQUIRE(head.headers.size() == 1);
  CHECK(head.headers[0] ==
        "X-Spam-Report:\r\n\t*  1000 GTUBE BODY: Generic Test\r\n\t*  -0.0 NO_RELAYS ? relayed");
  head = parse_spamd_processed_head("X-Spam-Status: No, score=0.1 tests=none autolearn=no\r\n\r\n");
  CHECK(head.rules.empty());
  head = parse_spamd_processed_head("Subject: no spamd headers\r\n\r\nbody\r\n");
  CHECK(head.rules.empty());
  CHECK(head.headers.empty());
}

TEST_CASE("PING answers PONG and spamd closes without headers", "[spamd][codec]") {
  Parsed p = parse_both("SPAMD/1.5 0 PONG\r\n", SpamdCommand::ping, false);
  REQUIRE(p.status == Status::complete);
  CHECK(p.response.ok());
  CHECK(p.response.version == "1.5");
  CHECK(p.response.message == "PONG");
}

TEST_CASE("TELL: what spamd did, and the spare CRLF after the headers", "[spamd][codec]") {
  const std::string reply = "SPAMD/1.1 0 EX_OK\r\nDidSet: local\r\n\r\n\r\n";
  Parsed p = parse_both(reply, SpamdCommand::tell);
  REQUIRE(p.status == Status::complete);
  CHECK(p.response.did_set == std::vector<std::string>{"local"});
  CHECK(p.response.did_remove.empty());
  CHECK(p.consumed == reply.size() - 2);
  p = parse_both("SPAMD/1.1 0 EX_OK\r\nDidRemove: local, remote\r\n\r\n\r\n", SpamdCommand::tell);
  CHECK(p.response.did_remove == std::vector<std::string>{"local", "remote"});
  p = parse_both("SPAMD/1.1 0 EX_OK\r\n\r\n\r\n", SpamdCommand::tell);
  REQUIRE(p.status == Status::complete);
  CHECK(p.response.did_set.empty());
}

TEST_CASE("errors are one status line with a sysexits code", "[spamd][codec]") {
  Parsed p = parse_both(
      "SPAMD/1.0 76 Bad header line: (Content-Length mismatch: Expected 10 bytes, got 3 bytes)\r\n",
      SpamdCommand::symbols, false);
  REQUIRE(p.status == Status::complete);
  CHECK_FALSE(p.response.ok());
  CHECK(p.response.code == 76);
  CHECK(sysexits_name(p.response.code) == "EX_PROTOCOL");
  CHECK(p.response.message ==
        "Bad header line: (Content-Length mismatch: Expected 10 bytes, got 3 bytes)");
  p = parse_both(
      "SPAMD/1.0 69 Service Unavailable: TELL commands are not enabled, set the --allow-tell "
      "switch.\r\n",
      SpamdCommand::tell);
  CHECK(p.response.code == 69);
  CHECK(sysexits_name(69) == "EX_UNAVAILABLE");
  p = parse_both("SPAMD/1.0 79 Timeout: (30 second timeout while trying to CHECK)\r\n",
                 SpamdCommand::check);
  CHECK(sysexits_name(p.response.code) == "EX_TIMEOUT");
  CHECK(sysexits_name(0) == "EX_OK");
  CHECK(sysexits_name(64) == "EX_USAGE");
  CHECK(sysexits_name(74) == "EX_IOERR");
  CHECK(sysexits_name(3) == "EX_?");
}

TEST_CASE("a status message cannot carry control characters into a log", "[spamd][codec]") {
  Parsed p =
      parse_both("SPAMD/1.0 76 Bad header line: a\x1b[31m\rb\xff\r\n", SpamdCommand::symbols);
  REQUIRE(p.status == Status::complete);
  CHECK(p.response.message == "Bad header line: a?[31m?b?");
}

TEST_CASE("malformed responses are errors", "[spamd][codec]") {
  struct Case {
    std::string input;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", "closed without a reply"},
      {"SPAMD/1.1 0 EX", "closed in the status line"},
      {"HTTP/1.1 200 OK\r\n", "not a SPAMD status line"},
      {"SPAMD/1 0 EX_OK\r\n", "bad protocol version in the status line"},
      {"SPAMD/1.1\r\n", "no code in the status line"},
      {"SPAMD/1.1 x EX_OK\r\n", "bad code in the status line"},
      {"SPAMD/1.1 256 EX_OK\r\n", "bad code in the status line"},
      {"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n", "closed in the headers"},
      {"SPAMD/1.1 0 EX_OK\r\n\r\nGTUBE", "no Spam header"},
      {"SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n", "bad Spam header"},
      {"SPAMD/1.1 0 EX_OK\r\nSpam: True 1 / 5\r\n\r\n", "bad Spam header"},
      {"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1\r\n\r\n", "bad Spam header"},
      {"SPAMD/1.1 0 EX_OK\r\nSpam: True ; nan / 5\r\n\r\n", "bad score in the Spam header"},
      {"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1e999 / 5\r\n\r\n", "bad score in the Spam header"},
      {"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1x / 5\r\n\r\n", "bad score in the Spam header"},
      {"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\nSpam: False ; 1 / 5\r\n\r\n",
       "more than one Spam header"},
      {"SPAMD/1.1 0 EX_OK\r\nContent-length: -1\r\n", "bad Content-length"},
      {"SPAMD/1.1 0 EX_OK\r\nContent-length: 99999999999999999999\r\n", "bad Content-length"},
      {"SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nContent-length: 6\r\n",
       "conflicting Content-length headers"},
      {"SPAMD/1.1 0 EX_OK\r\nno colon here\r\n", "header not in 'Name: value' form"},
      {"SPAMD/1.1 0 EX_OK\r\n: value\r\n", "header not in 'Name: value' form"},
      {"SPAMD/1.1 0 EX_OK\r\nBad Name: value\r\n", "bad header name"},
      {std::string("SPAMD/1.1 0 EX_OK\r\nX: a\0 b\r\n", 28), "control character in a header"},
      {"SPAMD/1.1 0 EX_OK\r\nContent-length: 10\r\nSpam: True ; 1 / 5\r\n\r\nGTUBE",
       "closed after 5 of 10 body bytes"},
  };
  for (const auto& c : cases) {
    INFO(c.input);
    Parsed p = parse_both(c.input, SpamdCommand::symbols);
    CHECK(p.status == Status::error);
    CHECK(p.error == c.error);
  }
}

TEST_CASE("oversized responses are errors, not memory", "[spamd][codec]") {
  SpamdResponseParser::Limits limits;
  Parsed p = parse_both("SPAMD/1.1 0 EX_OK\r\nX-Long: " + std::string(9000, 'a') + "\r\n",
                        SpamdCommand::symbols);
  CHECK(p.error == "line longer than 8192 bytes");
  // A line of exactly the limit, line end included, is still a line.
  p = parse_both("SPAMD/1.1 0 EX_OK\r\nX: " + std::string(8192 - 5, 'a') + "\r\n",
                 SpamdCommand::symbols);
  CHECK(p.error == "closed in the headers");

  std::string many = "SPAMD/1.1 0 EX_OK\r\n";
  for (int i = 0; i < 65; ++i) many += "X-H: " + std::to_string(i) + "\r\n";
  p = parse_both(many, SpamdCommand::symbols);
  CHECK(p.error == "more than 64 headers");

  limits.max_body = 100;
  p = parse_both("SPAMD/1.1 0 EX_OK\r\nContent-length: 101\r\n", SpamdCommand::process, true,
                 limits);
  CHECK(p.error == "body longer than 100 bytes");
  p = parse_both("SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n\r\n" + std::string(101, 'x'),
                 SpamdCommand::process, true, limits);
  CHECK(p.error == "body longer than 100 bytes");
  p = parse_both("SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n\r\n" + std::string(100, 'x'),
                 SpamdCommand::process, true, limits);
  CHECK(p.status == Status::complete);
}

TEST_CASE("after the end the parser takes nothing more", "[spamd][codec]") {
  SpamdResponseParser parser(SpamdCommand::ping);
  std::size_t used = 0;
  CHECK(parser.feed("SPAMD/1.5 0 PONG\r\nextra", used) == Status::complete);
  CHECK(used == 18);
  CHECK(parser.feed("more", used) == Status::complete);
  CHECK(used == 0);
  CHECK(parser.finish() == Status::complete);
  SpamdResponseParser broken(SpamdCommand::ping);
  CHECK(broken.feed("nonsense\r\n", used) == Status::error);
  CHECK(broken.feed("SPAMD/1.5 0 PONG\r\n", used) == Status::error);
  CHECK(used == 0);
}
