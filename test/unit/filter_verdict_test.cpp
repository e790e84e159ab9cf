#include <catch2/catch.hpp>

#include "contentfilter/filter_config.hpp"
#include "contentfilter/proxy/next_hop.hpp"
#include "contentfilter/verdict/verdict.hpp"

using namespace mailsan::filter;

namespace {

Envelope envelope_for(std::vector<std::string> recipients) {
  Envelope e;
  e.sender.address = "alice@remote.test";
  for (auto& r : recipients) e.recipients.push_back({std::move(r), {}});
  return e;
}

VerdictPolicy policy() {
  VerdictPolicy p;
  p.defaults = {"", 5, 10};
  p.virus_reply = "554 5.7.1 Rejected: virus ${virus} found";
  p.spam_reply = "550 5.7.1 Rejected as spam (score ${score})";
  p.hostname = "mx1.test";
  return p;
}

ScanReport scored(double score, std::vector<std::string> rules = {"RULE_A"}) {
  ScanReport r;
  r.scanner = "spamd";
  r.completed = true;
  r.scores_spam = true;
  r.score = score;
  r.rules = std::move(rules);
  return r;
}

ScanReport virus_scan(std::optional<std::string> virus) {
  ScanReport r;
  r.scanner = "clamav";
  r.completed = true;
  r.checks_viruses = true;
  r.virus = std::move(virus);
  return r;
}

Verdict decide(const Envelope& e, std::vector<ScanReport> reports, const VerdictPolicy& p,
               std::vector<FailureMode> modes = {}) {
  if (modes.empty()) modes.assign(reports.size(), FailureMode::open);
  std::vector<std::string> replies(reports.size(), "451 4.3.0 Scan temporarily unavailable");
  return decide_verdict(e, reports, modes, replies, p);
}

}  // namespace

TEST_CASE("a virus is refused with its name, or quarantined for every recipient",
          "[filter][verdict]") {
  auto e = envelope_for({"bob@example.test", "carol@example.test"});
  auto v = decide(e, {virus_scan("Eicar-Test-Signature"), scored(1)}, policy());
  CHECK(v.kind == Verdict::Kind::reject);
  CHECK(v.reply == "554 5.7.1 Rejected: virus Eicar-Test-Signature found");
  CHECK(v.label == "virus");
  auto p = policy();
  p.quarantine_viruses = true;
  v = decide(e, {virus_scan("Worm.Mydoom")}, p);
  CHECK(v.kind == Verdict::Kind::accept);
  CHECK(v.deliver.empty());
  CHECK(v.quarantine == std::vector<std::size_t>{0, 1});
}

TEST_CASE("spam at every recipient's reject score is refused, below it the message is tagged",
          "[filter][verdict]") {
  auto e = envelope_for({"bob@example.test"});
  auto v = decide(e, {scored(12.04)}, policy());
  CHECK(v.kind == Verdict::Kind::reject);
  CHECK(v.reply == "550 5.7.1 Rejected as spam (score 12.0)");
  v = decide(e, {scored(6.25, {"A", "B"}), virus_scan(std::nullopt)}, policy());
  CHECK(v.kind == Verdict::Kind::accept);
  CHECK(v.deliver == std::vector<std::size_t>{0});
  CHECK(v.label == "tagged");
  CHECK(v.headers ==
        std::vector<std::string>{"X-Spam-Flag: YES", "X-Spam-Score: 6.3",
                                 "X-Spam-Status: Yes, score=6.3 required=5.0 tests=A,B",
                                 "X-Virus-Scanned: mailsan-filter at mx1.test"});
  v = decide(e, {scored(0.5, {})}, policy());
  CHECK(v.label == "clean");
  CHECK(v.headers[0] == "X-Spam-Flag: NO");
  CHECK(v.headers[2] == "X-Spam-Status: No, score=0.5 required=5.0 tests=none");
  // Exactly at the reject score is spam (SPEC: "at or above").
  CHECK(decide(e, {scored(10)}, policy()).kind == Verdict::Kind::reject);
}

TEST_CASE("recipients that disagree split the message: delivered to some, quarantined for others",
          "[filter][verdict]") {
  auto p = policy();
  p.thresholds = parse_spam_thresholds({"bob@example.test=3/6", "@strict.test=2/4"});
  auto e = envelope_for({"bob@example.test", "carol@example.test", "dan@strict.test"});
  auto v = decide(e, {scored(7)}, p);
  CHECK(v.kind == Verdict::Kind::accept);
  CHECK(v.deliver == std::vector<std::size_t>{1});
  CHECK(v.quarantine == std::vector<std::size_t>{0, 2});
  CHECK(v.label == "split");
  CHECK(v.reason == "spam 7.0 (reject 6.0 for bob@example.test)");
  // The delivered copy is flagged by its own recipients' tag score.
  CHECK(v.headers[0] == "X-Spam-Flag: YES");
  CHECK(threshold_for(p, "Dan@STRICT.test").reject == 4);
  CHECK(threshold_for(p, "erin@other.test").reject == 10);
}

TEST_CASE("a scanner that fails closed tempfails, one that fails open leaves the mail unchecked",
          "[filter][verdict]") {
  auto e = envelope_for({"bob@example.test"});
  ScanReport failed;
  failed.scanner = "clamav";
  failed.error = "engine error";
  failed.checks_viruses = true;
  auto v = decide(e, {failed, scored(1)}, policy(), {FailureMode::closed, FailureMode::open});
  CHECK(v.kind == Verdict::Kind::tempfail);
  CHECK(v.reply == "451 4.3.0 Scan temporarily unavailable");
  ScanReport spamd_down;
  spamd_down.scanner = "spamd";
  spamd_down.error = "connection refused";
  spamd_down.scores_spam = true;
  v = decide(e, {spamd_down, virus_scan(std::nullopt)}, policy());
  CHECK(v.kind == Verdict::Kind::accept);
  CHECK(v.headers == std::vector<std::string>{"X-Spam-Status: unchecked",
                                              "X-Virus-Scanned: mailsan-filter at mx1.test"});
  CHECK(v.report == "spamd: failed (connection refused)\nclamav: clean");
}

TEST_CASE("a spam check that did not finish leaves the message unchecked, whatever else scored",
          "[filter][verdict]") {
  auto e = envelope_for({"bob@example.test"});
  ScanReport spamd_down;
  spamd_down.scanner = "spamd";
  spamd_down.error = "connection refused";
  spamd_down.scores_spam = true;
  ScanReport bulk;
  bulk.scanner = "bulk";
  bulk.completed = true;
  bulk.scores_spam = true;
  bulk.spam_check = false;  // adds to the score, checks nothing on its own
  bulk.headers = {"X-Mailsan-Bulk: no; count=1"};
  auto v = decide(e, {spamd_down, bulk}, policy());
  CHECK(v.kind == Verdict::Kind::accept);
  CHECK_FALSE(v.spam_checked);
  CHECK(v.spam_unchecked);
  CHECK(v.label == "unchecked");
  CHECK(v.headers ==
        std::vector<std::string>{"X-Spam-Status: unchecked", "X-Mailsan-Bulk: no; count=1"});

  ScanReport spamd_skipped = spamd_down;
  spamd_skipped.skipped = true;
  spamd_skipped.error = "larger than max_size";
  v = decide(e, {spamd_skipped, bulk}, policy());
  CHECK(v.spam_unchecked);
  CHECK(v.headers[0] == "X-Spam-Status: unchecked");

  // No spam check configured: the score counts, but no X-Spam-* header.
  bulk.score = 5;
  v = decide(e, {bulk}, policy());
  CHECK_FALSE(v.spam_unchecked);
  CHECK(v.score == 5);
  CHECK(v.label == "tagged");
  CHECK(v.headers == std::vector<std::string>{"X-Mailsan-Bulk: no; count=1"});
}

TEST_CASE("a virus scan skipped for size says so instead of X-Virus-Scanned as if scanned",
          "[filter][verdict]") {
  auto e = envelope_for({"bob@example.test"});
  ScanReport skipped;
  skipped.scanner = "clamav";
  skipped.checks_viruses = true;
  skipped.skipped = true;
  skipped.error = "larger than clamav.max_scan_size";
  auto v = decide(e, {skipped, scored(1)}, policy(), {FailureMode::closed, FailureMode::open});
  CHECK(v.kind == Verdict::Kind::accept);
  CHECK(v.virus_unscanned == "larger than clamav.max_scan_size");
  CHECK(v.headers.back() == "X-Virus-Scanned: no (larger than clamav.max_scan_size)");
  CHECK(v.report.find("clamav: skipped (larger than clamav.max_scan_size)") != std::string::npos);
  // The log and the report do not call it clean.
  CHECK(v.label == "unchecked");
  CHECK(v.reason == "unchecked; not virus-scanned (larger than clamav.max_scan_size)");
  // One virus scanner that did look is not enough when another skipped.
  v = decide(e, {skipped, virus_scan(std::nullopt)}, policy());
  CHECK(v.headers.back() == "X-Virus-Scanned: no (larger than clamav.max_scan_size)");
}

TEST_CASE("without scanners a message goes on untouched", "[filter][verdict]") {
  auto v = decide(envelope_for({"bob@example.test"}), {}, policy());
  CHECK(v.kind == Verdict::Kind::accept);
  CHECK(v.headers.empty());
  CHECK(v.deliver == std::vector<std::size_t>{0});
}

TEST_CASE("spam thresholds are RECIPIENT=TAG/REJECT entries", "[filter][config]") {
  auto t = parse_spam_thresholds({"Bob@Example.TEST=3/6.5", "@example.org=-1/20", "x.test=0/0"});
  REQUIRE(t.size() == 3);
  CHECK(t[0].match == "bob@example.test");
  CHECK(t[0].reject == 6.5);
  CHECK(t[1].match == "example.org");
  CHECK(t[1].tag == -1);
  for (const char* bad : {"bob", "=3/6", "bob@x=3", "bob@x=a/6", "bob@x=7/6", "@=1/2"})
    CHECK_THROWS_AS(parse_spam_thresholds({bad}), std::invalid_argument);
}

TEST_CASE("dot-stuffing for the next hop doubles a leading dot, across chunks too",
          "[filter][next_hop]") {
  std::string out;
  bool at_start = true;
  dot_stuff(".first\r\nmid.dle\r\n", at_start, out);
  dot_stuff(".", at_start, out);
  dot_stuff("\r\n..two\r\n", at_start, out);
  CHECK(out == "..first\r\nmid.dle\r\n..\r\n...two\r\n");
  CHECK(at_start);
}

TEST_CASE("XFORWARD lines carry only announced attributes, xtext-encoded, within 512 bytes",
          "[filter][next_hop]") {
  Envelope e;
  e.xforward = {{"NAME", "client.test"},
                {"ADDR", "192.0.2.1"},
                {"HELO", "a b=c"},
                {"IDENT", "[UNAVAILABLE]"},
                {"SECRET", "x"}};
  auto lines = xforward_lines(e, {"NAME", "ADDR", "HELO", "IDENT"});
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "XFORWARD NAME=client.test ADDR=192.0.2.1 HELO=a+20b+3Dc IDENT=[UNAVAILABLE]");
  e.xforward.clear();
  for (int i = 0; i < 5; ++i) e.xforward.push_back({"HELO", std::string(200, 'h')});
  lines = xforward_lines(e, {"HELO"});
  CHECK(lines.size() == 3);
  for (const auto& l : lines) CHECK(l.size() <= 512);
}
