// Replies written as Postfix policy actions, parsed into decisions when the
// configuration is loaded, and written back by the policy front end.
#include <catch2/catch.hpp>

#include "policyd/pipeline/decision.hpp"
#include "policyd/protocol/policy_responder.hpp"

using namespace mailsan::policyd;

namespace {

std::string round_trip(const std::string& text) {
  return policy_action(Decision::from(parse_reply(text), {}, "v", "r"));
}

}  // namespace

TEST_CASE("every default reply is written back exactly as configured", "[decision]") {
  for (const char* text : {
           "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in ${seconds} seconds",
           "554 5.7.1 Service unavailable; client [${ip}] blocked using ${zone}${reason}",
           "550 5.7.23 <${sender}>: SPF check failed: ${explanation}",
           "451 4.4.3 SPF temporary error",
           "550 5.1.1 User unknown",
           "451 4.3.0 Recipient lookup temporarily unavailable",
           "DEFER_IF_PERMIT 4.7.1 <${recipient}>... from <${sender}> via [${ip}] to <${recipient}> "
           "denied for ${seconds} seconds",
           "REJECT go away",
           "DEFER try later",
           "450 please wait",
       })
    CHECK(round_trip(text) == text);
}

TEST_CASE("a reply is parsed into kind, code, status and text", "[decision]") {
  ReplyTemplate r = parse_reply("550 5.1.1 User unknown");
  CHECK(r.kind == DecisionKind::reject);
  CHECK(r.code == 550);
  CHECK(r.status == "5.1.1");
  CHECK(r.text == "User unknown");

  r = parse_reply("defer_if_permit 4.7.1 Greylisted");
  CHECK(r.kind == DecisionKind::defer_if_permit);
  CHECK(r.code == 0);
  CHECK(r.status == "4.7.1");

  CHECK_THROWS_WITH(parse_reply("450 4.7.1"), Catch::Contains("needs a text"));

  r = parse_reply("REJECT");
  CHECK(r.kind == DecisionKind::reject);
  CHECK(r.text.empty());
}

TEST_CASE("placeholders are filled per request", "[decision]") {
  Decision d = Decision::from(parse_reply("DEFER_IF_PERMIT 4.7.1 retry in ${seconds} seconds"),
                              {{"seconds", "42"}}, "defer", "greylist");
  CHECK(d.text == "retry in 42 seconds");
  CHECK(policy_action(d) == "DEFER_IF_PERMIT 4.7.1 retry in 42 seconds");
}

TEST_CASE("a reply that is no policy action is refused with the reason", "[decision]") {
  CHECK_THROWS_WITH(parse_reply("OK"), Catch::Contains("4xx or 5xx"));
  CHECK_THROWS_WITH(parse_reply("250 fine"), Catch::Contains("not a 4xx or 5xx"));
  CHECK_THROWS_WITH(parse_reply("550 4.1.1 mixed classes"), Catch::Contains("does not match"));
  CHECK_THROWS_WITH(parse_reply("DEFER 5.7.1 wrong class"), Catch::Contains("does not match"));
  CHECK_THROWS_WITH(parse_reply("550"), Catch::Contains("needs a text"));
  CHECK_THROWS_WITH(parse_reply("550 5.1.1 two\nlines"), Catch::Contains("one line"));
  CHECK_THROWS(parse_reply(""));
}

TEST_CASE("continue and accept are DUNNO and OK", "[decision]") {
  CHECK(policy_action(Decision::proceed("dunno")) == "DUNNO");
  Decision ok;
  ok.kind = DecisionKind::accept;
  CHECK(policy_action(ok) == "OK");
}
