// The content pipeline with small scanners written here: a clean one, one
// that finds a virus, one that scores spam, one that fails, and one slower
// than scan_timeout. The quarantine writes real files in a temporary
// directory; its index is an in-memory stand-in that records the commands.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>

#include "common/metrics/registry.hpp"
#include "common/stats/report_rows.hpp"
#include "contentfilter/pipeline/content_pipeline.hpp"
#include "test/support/process.hpp"
#include "test/support/run_coroutine.hpp"

using namespace mailsan;
using namespace mailsan::filter;
namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

class TestScanner : public Scanner {
 public:
  TestScanner(std::string name, ScanReport report, FailureMode mode = FailureMode::open)
      : name_(std::move(name)), report_(std::move(report)), mode_(mode) {}
  std::string_view name() const override { return name_; }
  FailureMode failure_mode() const override { return mode_; }
  std::string unavailable_reply() const override { return "451 4.3.0 " + name_ + " unavailable"; }
  asio::awaitable<ScanReport> scan(ScanInput input) override {
    seen_recipients = input.envelope.recipients.size();
    seen_size = input.message.size();
    co_return report_;
  }
  std::size_t seen_recipients = 0;
  std::size_t seen_size = 0;

 private:
  std::string name_;
  ScanReport report_;
  FailureMode mode_;
};

std::shared_ptr<TestScanner> clean_scanner() {
  ScanReport r;
  r.completed = true;
  r.checks_viruses = true;
  return std::make_shared<TestScanner>("clean", r);
}

std::shared_ptr<TestScanner> virus_scanner() {
  ScanReport r;
  r.completed = true;
  r.checks_viruses = true;
  r.virus = "Eicar-Test-Signature";
  return std::make_shared<TestScanner>("virus", r);
}

std::shared_ptr<TestScanner> spam_scanner(double score) {
  ScanReport r;
  r.completed = true;
  r.scores_spam = true;
  r.score = score;
  r.rules = {"TEST_RULE"};
  return std::make_shared<TestScanner>("spam", r);
}

std::shared_ptr<TestScanner> failing_scanner(FailureMode mode) {
  ScanReport r;
  r.completed = false;
  r.scores_spam = true;
  r.error = "connection refused";
  return std::make_shared<TestScanner>("failing", r, mode);
}

// Waits far longer than the test's scan_timeout unless cancelled, and says
// when its coroutine has ended (so the test sees it was waited for).
class SlowScanner : public Scanner {
 public:
  std::string_view name() const override { return "slow"; }
  FailureMode failure_mode() const override { return FailureMode::open; }
  std::string unavailable_reply() const override { return "451 4.3.0 slow"; }
  asio::awaitable<ScanReport> scan(ScanInput) override {
    struct Ended {
      bool& flag;
      ~Ended() { flag = true; }
    } ended{ended_};
    started_ = true;
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::seconds(30));
    co_await timer.async_wait(asio::use_awaitable);  // throws when cancelled
    ScanReport r;
    r.completed = true;
    r.scores_spam = true;
    r.score = 100;
    co_return r;
  }
  bool started_ = false;
  bool ended_ = false;
};

// The quarantine index in memory: every command is recorded; `fail` makes
// every command a transport failure.
class MemoryIndex : public QuarantineIndexConnection {
 public:
  asio::awaitable<IndexReply> command(std::vector<std::string> argv) override {
    commands.push_back(argv);
    IndexReply out;
    if (fail) {
      out.error = "Connection refused";
      co_return out;
    }
    redis::Reply reply;
    if (argv[0] == "SET") {
      reply.type = redis::Reply::Type::status;
      reply.str = "OK";
    } else {
      reply.type = redis::Reply::Type::integer;
      reply.integer = 1;
    }
    out.reply = reply;
    co_return out;
  }
  std::vector<std::vector<std::string>> commands;
  bool fail = false;
};

struct Rig {
  asio::io_context io;
  test::TempDir dir{"mailsan-pipeline-test"};
  metrics::Registry registry;
  FilterMetrics metrics{registry};
  MemoryIndex index;
  Quarantine quarantine{dir.path() / "quarantine", "mailsan:", index};
  std::vector<std::string> rows;
  Envelope envelope;
  MessageSpool spool{1 << 20, dir.path()};

  explicit Rig(std::vector<std::string> recipients = {"bob@example.test"}) {
    envelope.mta_helo = "mx.example.test";
    envelope.client_address = "192.0.2.25";
    envelope.client_helo = "client.example.net";
    envelope.sender.address = "alice@example.net";
    for (auto& r : recipients) envelope.recipients.push_back({std::move(r), {"NOTIFY=NEVER"}});
    REQUIRE_FALSE(spool.append("Subject: test\r\n\r\nbody\r\n"));
  }

  ContentPipeline pipeline(std::vector<std::shared_ptr<Scanner>> scanners,
                           milliseconds scan_timeout = milliseconds(2000)) {
    auto config = std::make_shared<ContentPipelineConfig>();
    config->scanners = std::move(scanners);
    config->scan_timeout = scan_timeout;
    config->hostname = "mx1.example.test";
    config->policy.hostname = "mx1.example.test";
    config->policy.virus_reply = "554 5.7.1 Rejected: virus ${virus} found";
    config->policy.spam_reply = "550 5.7.1 Rejected as spam (score ${score})";
    config->policy.thresholds = parse_spam_thresholds({"bob@example.test=3/6"});
    return ContentPipeline(
        io.get_executor(), config,
        {&quarantine, &metrics, [this](std::string_view row) { rows.emplace_back(row); }});
  }

  ContentOutcome process(ContentPipeline& p) {
    ContentOutcome out;
    test::run_test(io,
                   [&]() -> asio::awaitable<void> { out = co_await p.process(envelope, spool); }());
    io.restart();
    return out;
  }
};

bool has(const std::vector<std::string>& headers, const std::string& h) {
  return std::find(headers.begin(), headers.end(), h) != headers.end();
}

}  // namespace

TEST_CASE("A clean message goes on to every recipient with its headers, nothing kept",
          "[filter][pipeline]") {
  Rig rig({"carol@example.test", "dave@example.test"});
  auto clean = clean_scanner();
  auto spam = spam_scanner(1.5);
  auto p = rig.pipeline({clean, spam});
  ContentOutcome o = rig.process(p);
  CHECK_FALSE(o.settled());
  CHECK(o.recipients ==
        std::vector<RecipientAction>{RecipientAction::deliver, RecipientAction::deliver});
  CHECK(o.deliver_to() == std::vector<std::size_t>{0, 1});
  CHECK(o.label == "clean");
  CHECK(o.spam_checked);
  CHECK(o.score == 1.5);
  CHECK(has(o.headers, "X-Spam-Flag: NO"));
  CHECK(has(o.headers, "X-Virus-Scanned: mailsan-filter at mx1.example.test"));
  CHECK(o.report == "clean: clean\nspam: score 1.5");
  CHECK(o.quarantine_id.empty());
  CHECK(rig.index.commands.empty());
  // Every scanner saw the envelope and the message.
  CHECK(clean->seen_recipients == 2);
  CHECK(spam->seen_size == rig.spool.size());

  // The report row is counted when the answer settles the message, not for
  // a 4xx that will be retried.
  p.settled(o.label, "451 4.3.0 try again");
  CHECK(rig.rows.empty());
  p.settled(o.label, "250 2.0.0 Ok: queued as ABC");
  CHECK(rig.rows == std::vector<std::string>{std::string(stats::row::delivered_ham)});
}

TEST_CASE("A virus refuses the message for every recipient and counts as virus",
          "[filter][pipeline]") {
  Rig rig({"carol@example.test", "dave@example.test"});
  auto p = rig.pipeline({virus_scanner(), spam_scanner(0)});
  ContentOutcome o = rig.process(p);
  CHECK(o.settled());
  CHECK(o.reply == "554 5.7.1 Rejected: virus Eicar-Test-Signature found");
  CHECK(o.recipients ==
        std::vector<RecipientAction>{RecipientAction::reject, RecipientAction::reject});
  CHECK(o.label == "virus");
  CHECK(o.virus == "Eicar-Test-Signature");
  p.settled(o.label, o.reply);
  CHECK(rig.rows == std::vector<std::string>{std::string(stats::row::virus)});
}

TEST_CASE("Spam over every recipient's reject score is refused and counted as spam",
          "[filter][pipeline]") {
  Rig rig({"carol@example.test"});
  auto p = rig.pipeline({spam_scanner(12)});
  ContentOutcome o = rig.process(p);
  CHECK(o.reply == "550 5.7.1 Rejected as spam (score 12.0)");
  CHECK(o.recipients == std::vector<RecipientAction>{RecipientAction::reject});
  p.settled(o.label, o.reply);
  CHECK(rig.rows == std::vector<std::string>{std::string(stats::row::spam)});
}

TEST_CASE(
    "Recipients who disagree: one copy quarantined, the rest delivered tagged; a refused "
    "relay takes the copy back",
    "[filter][pipeline]") {
  // bob rejects at 6, carol (the defaults) at 10: a 7 splits them.
  Rig rig({"bob@example.test", "carol@example.test"});
  auto p = rig.pipeline({spam_scanner(7)});
  ContentOutcome o = rig.process(p);
  CHECK_FALSE(o.settled());
  CHECK(o.recipients ==
        std::vector<RecipientAction>{RecipientAction::quarantine, RecipientAction::deliver});
  CHECK(o.deliver_to() == std::vector<std::size_t>{1});
  CHECK(o.label == "split");
  CHECK(has(o.headers, "X-Spam-Flag: YES"));
  REQUIRE(valid_quarantine_id(o.quarantine_id));
  CHECK(rig.metrics.quarantined.value() == 1);

  auto record = rig.quarantine.store().get(o.quarantine_id);
  REQUIRE(record);
  CHECK(record->hostname == "mx1.example.test");
  CHECK(record->sender == "alice@example.net");
  REQUIRE(record->recipients.size() == 1);
  CHECK(record->recipients[0].address == "bob@example.test");
  CHECK(record->recipients[0].parameters == std::vector<std::string>{"NOTIFY=NEVER"});
  CHECK(record->helo == "mx.example.test");
  // No XFORWARD came (as from a milter): the client fields stand in.
  CHECK(record->xforward == std::vector<std::pair<std::string, std::string>>{
                                {"ADDR", "192.0.2.25"}, {"HELO", "client.example.net"}});
  REQUIRE(rig.index.commands.size() == 2);
  CHECK(rig.index.commands[0][0] == "ZADD");
  CHECK(rig.index.commands[0][1] == "mailsan:quarantine");
  CHECK(rig.index.commands[1][0] == "SET");
  CHECK(rig.index.commands[1][1] == "mailsan:quarantine:" + o.quarantine_id);

  const std::string id = o.quarantine_id;
  test::run_test(rig.io, [&]() -> asio::awaitable<void> { co_await p.next_hop_refused(o); }());
  CHECK_FALSE(rig.quarantine.store().get(id));
  CHECK(rig.quarantine.store().list().empty());
  REQUIRE(rig.index.commands.size() == 4);
  CHECK(rig.index.commands[2] == std::vector<std::string>{"ZREM", "mailsan:quarantine", id});
  CHECK(rig.index.commands[3] == std::vector<std::string>{"DEL", "mailsan:quarantine:" + id});
  CHECK(o.quarantine_id.empty());
  CHECK(o.recipients[0] == RecipientAction::tempfail);
  p.settled("tempfail", "451 4.3.0 Temporary failure");
  CHECK(rig.rows.empty());
}

TEST_CASE("A copy kept for every recipient settles the message with 250", "[filter][pipeline]") {
  Rig rig({"bob@example.test"});
  auto p = rig.pipeline({spam_scanner(7)});
  ContentOutcome o = rig.process(p);
  CHECK(o.settled());
  CHECK(o.reply == "550 5.7.1 Rejected as spam (score 7.0)");  // bob alone: refused
  Rig viruses({"bob@example.test", "carol@example.test"});
  auto config = std::make_shared<ContentPipelineConfig>();
  config->scanners = {virus_scanner()};
  config->policy.quarantine_viruses = true;
  config->hostname = "mx1.example.test";
  ContentPipeline q(viruses.io.get_executor(), config, {&viruses.quarantine, &viruses.metrics, {}});
  ContentOutcome kept = viruses.process(q);
  REQUIRE(kept.settled());
  CHECK(kept.reply == "250 2.0.0 Ok: accepted as " + kept.quarantine_id);
  CHECK(kept.recipients ==
        std::vector<RecipientAction>{RecipientAction::quarantine, RecipientAction::quarantine});
  CHECK(viruses.quarantine.store().get(kept.quarantine_id));
}

TEST_CASE(
    "A quarantine that cannot be written tempfails the whole message; a Redis failure "
    "only counts",
    "[filter][pipeline]") {
  Rig rig({"bob@example.test", "carol@example.test"});
  rig.index.fail = true;
  auto p = rig.pipeline({spam_scanner(7)});
  ContentOutcome o = rig.process(p);
  CHECK_FALSE(o.settled());
  CHECK(rig.quarantine.store().get(o.quarantine_id));
  CHECK(rig.metrics.redis_errors.value() == 1);

  Rig broken({"bob@example.test", "carol@example.test"});
  // quarantine_dir's parent is a file: nothing can be created under it.
  test::write_file(broken.dir.path() / "quarantine", "not a directory");
  auto q = broken.pipeline({spam_scanner(7)});
  ContentOutcome failed = broken.process(q);
  CHECK(failed.reply == "451 4.3.0 Error: cannot quarantine the message now");
  CHECK(failed.label == "tempfail");
  CHECK(failed.recipients ==
        std::vector<RecipientAction>{RecipientAction::tempfail, RecipientAction::tempfail});
  CHECK(failed.quarantine_id.empty());
  CHECK(broken.index.commands.empty());
}

TEST_CASE("A scanner that fails closed tempfails; one that fails open leaves it unchecked",
          "[filter][pipeline]") {
  Rig closed_rig;
  auto closed = closed_rig.pipeline({clean_scanner(), failing_scanner(FailureMode::closed)});
  ContentOutcome c = closed_rig.process(closed);
  CHECK(c.reply == "451 4.3.0 failing unavailable");
  CHECK(c.recipients == std::vector<RecipientAction>{RecipientAction::tempfail});
  CHECK(closed_rig.registry
            .counter("mailsan_filter_scanner_failures_total", "", {{"scanner", "failing"}})
            .value() == 1);

  Rig open_rig;
  auto open = open_rig.pipeline({clean_scanner(), failing_scanner(FailureMode::open)});
  ContentOutcome o = open_rig.process(open);
  CHECK_FALSE(o.settled());
  CHECK(o.recipients == std::vector<RecipientAction>{RecipientAction::deliver});
  CHECK_FALSE(o.spam_checked);
  CHECK(o.spam_unchecked);
  CHECK(o.label == "unchecked");
  CHECK(has(o.headers, "X-Spam-Status: unchecked"));
  CHECK(open_rig.registry.counter("mailsan_filter_unchecked_total", "", {{"check", "spam"}})
            .value() == 1);
  // Let through, but neither ham nor spam in the report.
  open.settled(o.label, "250 2.0.0 Ok: queued as ABC");
  CHECK(open_rig.rows.empty());
}

TEST_CASE("A scanner slower than scan_timeout is cancelled and waited for; the others count",
          "[filter][pipeline]") {
  Rig rig;
  auto slow = std::make_shared<SlowScanner>();
  auto p = rig.pipeline({clean_scanner(), slow, spam_scanner(1)}, milliseconds(5));
  const auto started = std::chrono::steady_clock::now();
  ContentOutcome o = rig.process(p);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK(slow->started_);
  // Ended before process() returned: nothing reads the spool any more.
  CHECK(slow->ended_);
  CHECK(o.report == "clean: clean\nslow: failed (scan_timeout)\nspam: score 1.0");
  CHECK(o.recipients == std::vector<RecipientAction>{RecipientAction::deliver});
  CHECK(o.score == 1);
  CHECK(rig.registry.counter("mailsan_filter_scanner_failures_total", "", {{"scanner", "slow"}})
            .value() == 1);
}
