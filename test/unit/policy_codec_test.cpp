#include "policyd/protocol/policy_codec.hpp"

#include <catch2/catch.hpp>
#include <string>

using mailsan::policyd::encode_reply;
using mailsan::policyd::PolicyLimits;
using mailsan::policyd::PolicyRequest;
using mailsan::policyd::PolicyRequestParser;
using Status = PolicyRequestParser::Status;

namespace {

const std::string kRequest =
    "request=smtpd_access_policy\n"
    "protocol_state=RCPT\n"
    "protocol_name=ESMTP\n"
    "client_address=192.0.2.17\n"
    "client_name=mail.example.net\n"
    "helo_name=mail.example.net\n"
    "sender=Alice+news@Example.NET\n"
    "recipient=bob@example.com\n"
    "instance=123.456.7\n"
    "queue_id=\n"
    "\n";

// Feeds `input` in pieces of `step` bytes and collects complete requests.
std::vector<PolicyRequest> parse_in_steps(const std::string& input, std::size_t step,
                                          Status* last) {
  PolicyRequestParser parser;
  std::vector<PolicyRequest> out;
  *last = Status::need_more;
  for (std::size_t off = 0; off < input.size(); off += step) {
    std::string_view chunk = std::string_view(input).substr(off, step);
    while (!chunk.empty()) {
      std::size_t used = 0;
      *last = parser.feed(chunk, &used);
      chunk.remove_prefix(used);
      if (*last == Status::error) return out;
      if (*last == Status::complete) out.push_back(parser.take());
    }
  }
  return out;
}

}  // namespace

TEST_CASE("a request fed whole is parsed into its attributes", "[codec]") {
  Status last;
  auto requests = parse_in_steps(kRequest, kRequest.size(), &last);
  REQUIRE(last == Status::complete);
  REQUIRE(requests.size() == 1);
  const auto& r = requests[0];
  CHECK(r.attribute_count() == 10);
  CHECK(r.request() == "smtpd_access_policy");
  CHECK(r.protocol_state() == "RCPT");
  CHECK(r.client_address() == "192.0.2.17");
  CHECK(r.sender() == "Alice+news@Example.NET");
  CHECK(r.recipient() == "bob@example.com");
  CHECK(r.instance() == "123.456.7");
  CHECK(r.queue_id().empty());
  CHECK(r.has("queue_id"));
  CHECK_FALSE(r.has("sasl_username"));
  CHECK(r.get("no_such_attribute").empty());
}

TEST_CASE("a request fed one byte at a time parses the same as whole", "[codec]") {
  Status last;
  auto whole = parse_in_steps(kRequest, kRequest.size(), &last);
  auto bytewise = parse_in_steps(kRequest, 1, &last);
  REQUIRE(bytewise.size() == 1);
  CHECK(bytewise[0].text() == whole[0].text());
  CHECK(bytewise[0].sender() == whole[0].sender());
  CHECK(bytewise[0].attribute_count() == whole[0].attribute_count());
}

TEST_CASE("several requests in one read are parsed in order, in any chunking", "[codec]") {
  std::string three = kRequest + "request=smtpd_access_policy\nprotocol_state=DATA\n\n" + kRequest;
  for (std::size_t step : {1, 2, 3, 7, 64, 4096}) {
    Status last;
    auto requests = parse_in_steps(three, step, &last);
    INFO("step " << step);
    REQUIRE(requests.size() == 3);
    CHECK(requests[1].protocol_state() == "DATA");
    CHECK(requests[2].client_address() == "192.0.2.17");
  }
}

TEST_CASE("values may contain '=' and attribute names need not be known", "[codec]") {
  Status last;
  auto r = parse_in_steps("sender=prvs=1234567890=a@b\nx_future_attribute=1\n\n", 5, &last);
  REQUIRE(r.size() == 1);
  CHECK(r[0].sender() == "prvs=1234567890=a@b");
  CHECK(r[0].get("x_future_attribute") == "1");
}

TEST_CASE("CRLF line endings from hand-written clients are accepted", "[codec]") {
  Status last;
  auto r = parse_in_steps("protocol_state=RCPT\r\nsender=a@b\r\n\r\n", 1, &last);
  REQUIRE(r.size() == 1);
  CHECK(r[0].sender() == "a@b");
}

TEST_CASE("malformed requests are errors", "[codec]") {
  for (std::string bad :
       {"no equals sign\n\n", "=value without name\n\n", "\n", "a=1\nbroken\n\n"}) {
    Status last;
    parse_in_steps(bad, 1, &last);
    INFO(bad);
    CHECK(last == Status::error);
  }
}

TEST_CASE("an error is sticky: the parser accepts nothing more", "[codec]") {
  PolicyRequestParser parser;
  std::size_t used = 0;
  REQUIRE(parser.feed("garbage\n", &used) == Status::error);
  CHECK_FALSE(parser.error().empty());
  CHECK(parser.feed("a=b\n\n", &used) == Status::error);
}

TEST_CASE("a request over 64 KiB is refused, also when it has no line end", "[codec]") {
  PolicyRequestParser parser;
  std::string big = "sender=" + std::string(70 * 1024, 'x');
  std::size_t used = 0;
  CHECK(parser.feed(big, &used) == Status::error);

  PolicyRequestParser exact;
  std::string fits = "a=" + std::string(64 * 1024 - 4, 'y') + "\n\n";
  REQUIRE(fits.size() == 64 * 1024);
  CHECK(exact.feed(fits, &used) == Status::complete);
}

TEST_CASE("a request with more than 1000 attributes is refused", "[codec]") {
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "a" + std::to_string(i) + "=1\n";
  Status last;
  auto ok = parse_in_steps(many + "\n", 4096, &last);
  CHECK(last == Status::complete);
  CHECK(ok.size() == 1);
  parse_in_steps(many + "a1000=1\n\n", 4096, &last);
  CHECK(last == Status::error);
}

TEST_CASE("limits are configurable", "[codec]") {
  PolicyRequestParser parser(PolicyLimits{32, 2});
  std::size_t used = 0;
  CHECK(parser.feed("a=1\nb=2\nc=3\n\n", &used) == Status::error);
}

TEST_CASE("replies are one action line and an empty line, never two lines", "[codec]") {
  CHECK(encode_reply("DUNNO") == "action=DUNNO\n\n");
  CHECK(encode_reply("REJECT bad\nINJECTED") == "action=REJECT bad INJECTED\n\n");
  CHECK(encode_reply("x\r\n") == "action=x  \n\n");
}
