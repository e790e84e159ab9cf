// The check pipeline on its own, with small in-test checks: order, first
// decisive verdict, concurrent lookups, the deadline, whitelists deciding
// before any lookup, and a lookup that outlives its request.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <stdexcept>

#include "common/metrics/registry.hpp"
#include "policyd/pipeline/pipeline.hpp"

namespace asio = boost::asio;
using namespace mailsan;
using namespace mailsan::policyd;
using namespace std::chrono_literals;

namespace {

// What the in-test checks did, in order.
struct Journal {
  std::vector<std::string> events;
  int lookups_running = 0;
  int most_lookups_at_once = 0;
  std::vector<std::string> senders_read_after_wait;
};

struct Seen {
  std::string by;
};

class FakeCheck : public Check {
 public:
  FakeCheck(std::string name, std::shared_ptr<Journal> journal)
      : name_(std::move(name)), journal_(std::move(journal)) {}

  FakeCheck& before_lookups() {
    before_ = true;
    return *this;
  }
  FakeCheck& lookup_for(std::chrono::milliseconds d) {
    lookup_ = d;
    return *this;
  }
  FakeCheck& decides(DecisionKind kind) {
    decision_ = kind;
    return *this;
  }
  FakeCheck& throws() {
    throws_ = true;
    return *this;
  }

  std::string_view name() const override { return name_; }
  bool decides_before_lookups() const override { return before_; }
  bool has_lookup() const override { return lookup_.has_value(); }

  asio::awaitable<void> lookup(Transaction& tx) override {
    auto journal = journal_;
    journal->events.push_back(name_ + ".lookup");
    journal->most_lookups_at_once =
        std::max(journal->most_lookups_at_once, ++journal->lookups_running);
    asio::steady_timer t(co_await asio::this_coro::executor, *lookup_);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    --journal->lookups_running;
    // Read after the wait: the request must still be there, whatever
    // became of the request's answer meanwhile.
    journal->senders_read_after_wait.emplace_back(tx.request.sender);
    tx.findings.record(Seen{name_});
  }

  asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override {
    journal_->events.push_back(name_ + ".decide");
    if (throws_) throw std::runtime_error("broken check");
    if (const Seen* seen = tx.findings.find<Seen>())
      journal_->events.push_back(name_ + ".saw:" + seen->by);
    if (!decision_) co_return std::nullopt;
    Decision d;
    d.kind = *decision_;
    d.verdict = name_;
    co_return d;
  }

 private:
  std::string name_;
  std::shared_ptr<Journal> journal_;
  bool before_ = false;
  bool throws_ = false;
  std::optional<std::chrono::milliseconds> lookup_;
  std::optional<DecisionKind> decision_;
};

struct Fixture {
  asio::io_context io;
  metrics::Registry registry;
  PolicydMetrics metrics{registry};
  std::shared_ptr<Journal> journal = std::make_shared<Journal>();
  std::chrono::milliseconds request_timeout;
  std::vector<std::shared_ptr<FakeCheck>> checks;
  std::shared_ptr<Pipeline> pipeline;

  explicit Fixture(std::chrono::milliseconds timeout = 1s) : request_timeout(timeout) {}

  // Checks are set up before the pipeline is built, as build_pipeline does.
  FakeCheck& add(std::string name) {
    checks.push_back(std::make_shared<FakeCheck>(std::move(name), journal));
    return *checks.back();
  }
  Pipeline& build() {
    pipeline = std::make_shared<Pipeline>(io.get_executor(), metrics, request_timeout, nullptr);
    for (const auto& c : checks) pipeline->add(c);
    return *pipeline;
  }

  // Runs until every coroutine has ended, lookups that outlived the
  // request included.
  Decision evaluate(std::string sender = "alice@example.net") {
    CheckRequest r;
    r.sender = r.own(sender);
    r.recipient = "bob@example.com";
    auto f = asio::co_spawn(io, build().evaluate(std::move(r)), asio::use_future);
    io.run();
    io.restart();
    return std::move(f.get()->decision);
  }
};

}  // namespace

TEST_CASE("checks decide in order and the first decisive verdict wins", "[pipeline]") {
  Fixture f;
  f.add("first");
  f.add("second").decides(DecisionKind::reject);
  f.add("third").decides(DecisionKind::defer);
  Decision d = f.evaluate();
  CHECK(d.kind == DecisionKind::reject);
  CHECK(d.check == "second");
  CHECK(f.journal->events == std::vector<std::string>{"first.decide", "second.decide"});
}

TEST_CASE("no decisive verdict lets the request go on", "[pipeline]") {
  Fixture f;
  f.add("a");
  f.add("b");
  Decision d = f.evaluate();
  CHECK(d.kind == DecisionKind::proceed);
  CHECK(d.verdict == "dunno");
}

TEST_CASE("every lookup starts at once and decisions wait for all of them", "[pipeline]") {
  Fixture f;
  f.add("dns").lookup_for(5ms);
  f.add("ldap").lookup_for(5ms);
  f.add("decider").decides(DecisionKind::defer);
  Decision d = f.evaluate();
  CHECK(d.kind == DecisionKind::defer);
  CHECK(f.journal->most_lookups_at_once == 2);
  // Both lookups ran before the first decision.
  REQUIRE(f.journal->events.size() >= 3);
  CHECK(f.journal->events[2] == "dns.decide");
}

TEST_CASE("a later check reads what an earlier check's lookup recorded", "[pipeline]") {
  Fixture f;
  f.add("dns").lookup_for(1ms);
  f.add("reader");
  f.evaluate();
  CHECK(std::find(f.journal->events.begin(), f.journal->events.end(), "reader.saw:dns") !=
        f.journal->events.end());
}

TEST_CASE("a whitelist deciding before lookups starts no lookup at all", "[pipeline]") {
  Fixture f;
  f.add("whitelist").before_lookups().decides(DecisionKind::proceed);
  f.add("dns").lookup_for(1ms).decides(DecisionKind::reject);
  Decision d = f.evaluate();
  CHECK(d.check == "whitelist");
  CHECK(f.journal->events == std::vector<std::string>{"whitelist.decide"});
}

TEST_CASE("a whitelist that does not decide lets the lookups run", "[pipeline]") {
  Fixture f;
  f.add("whitelist").before_lookups();
  f.add("dns").lookup_for(1ms).decides(DecisionKind::reject);
  Decision d = f.evaluate();
  CHECK(d.kind == DecisionKind::reject);
  CHECK(f.journal->events ==
        std::vector<std::string>{"whitelist.decide", "dns.lookup", "dns.decide", "dns.saw:dns"});
}

TEST_CASE("past request_timeout the request goes on, and a late lookup still reads its request",
          "[pipeline]") {
  Fixture f(20ms);
  f.add("slow").lookup_for(150ms).decides(DecisionKind::reject);
  auto start = std::chrono::steady_clock::now();
  CheckRequest r;
  r.sender = r.own(std::string(64, 's') + "@example.net");  // freed only with the request
  auto answer = asio::co_spawn(f.io, f.build().evaluate(std::move(r)), asio::use_future);
  std::chrono::steady_clock::duration answered_after{};
  while (answer.wait_for(0s) != std::future_status::ready && f.io.run_one())
    answered_after = std::chrono::steady_clock::now() - start;
  // A reload replaces the pipeline: the late lookup must keep what it uses.
  f.pipeline.reset();
  f.checks.clear();
  Decision d = std::move(answer.get()->decision);
  CHECK(d.kind == DecisionKind::proceed);
  CHECK(d.verdict == "timeout");
  CHECK(answered_after < 140ms);
  CHECK(f.journal->senders_read_after_wait.empty());  // still waiting
  f.io.run();  // the lookup ends after its request was answered
  REQUIRE(f.journal->senders_read_after_wait.size() == 1);
  CHECK(f.journal->senders_read_after_wait[0] == std::string(64, 's') + "@example.net");
  CHECK(f.metrics.request_timeouts.value() == 1);
}

TEST_CASE("a check that throws costs its request a continue, not the daemon", "[pipeline]") {
  Fixture f;
  f.add("broken").throws();
  f.add("after").decides(DecisionKind::reject);
  Decision d = f.evaluate();
  CHECK(d.kind == DecisionKind::proceed);
  CHECK(d.verdict == "error");
}
