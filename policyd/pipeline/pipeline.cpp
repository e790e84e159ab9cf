#include "policyd/pipeline/pipeline.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

#include "common/async/fan_out.hpp"
#include "common/log/log.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

Pipeline::Pipeline(asio::any_io_executor ex, PolicydMetrics& metrics,
                   std::chrono::milliseconds request_timeout, stats::DailyCounters* counters)
    : executor_(std::move(ex)),
      metrics_(metrics),
      request_timeout_(request_timeout),
      counters_(counters) {}

void Pipeline::add(std::shared_ptr<Check> check) {
  has_lookups_ = has_lookups_ || check->has_lookup();
  checks_.push_back(std::move(check));
}

std::vector<std::string_view> Pipeline::check_names() const {
  std::vector<std::string_view> names;
  for (const auto& c : checks_) names.push_back(c->name());
  return names;
}

bool Pipeline::decided(const Check& check, Transaction& tx, Clock::time_point start,
                       std::optional<Decision>& d) const {
  double ms = ms_since(start);
  metrics_.check_latency(check.name()).observe(ms / 1000.0);
  if (!check.has_lookup()) tx.timings.push_back({check.name(), ms});
  if (!d) return false;
  d->check = check.name();
  tx.decision = std::move(*d);
  return true;
}

asio::awaitable<bool> Pipeline::run_checks(std::shared_ptr<Transaction> tx) const {
  // Whitelists first: a whitelisted client starts no lookup at all. The
  // checks are awaited here directly, not through a helper coroutine: at
  // tens of thousands of requests a second every frame shows.
  for (const auto& c : checks_) {
    if (!c->decides_before_lookups()) continue;
    auto start = Clock::now();
    std::optional<Decision> d = co_await c->decide(*tx);
    if (decided(*c, *tx, start, d)) co_return true;
  }
  std::vector<async::Task> lookups;
  for (const auto& c : checks_) {
    if (!c->has_lookup() || c->decides_before_lookups()) continue;
    // Each lookup holds the transaction and its check, so one that outlives
    // the deadline finishes harmlessly (and may still fill a cache), even
    // after a reload has replaced this pipeline.
    lookups.push_back([check = c, tx]() -> asio::awaitable<void> {
      auto start = Clock::now();
      try {
        co_await check->lookup(*tx);
      } catch (const std::exception& e) {
        log::error("lookup_failed").kv("check", check->name()).kv("error", e.what());
      }
      tx->timings.push_back({check->name(), ms_since(start)});
    });
  }
  if (!lookups.empty()) co_await async::fan_out(executor_, std::move(lookups));
  for (const auto& c : checks_) {
    if (c->decides_before_lookups()) continue;
    auto start = Clock::now();
    std::optional<Decision> d = co_await c->decide(*tx);
    if (decided(*c, *tx, start, d)) co_return true;
  }
  co_return false;
}

asio::awaitable<std::shared_ptr<Transaction>> Pipeline::evaluate(CheckRequest request) const {
  auto tx = std::make_shared<Transaction>(std::move(request));
  try {
    if (has_lookups_) {
      asio::steady_timer deadline(executor_, request_timeout_);
      auto outcome = co_await (run_checks(tx) || deadline.async_wait(asio::use_awaitable));
      if (outcome.index() == 1) {
        metrics_.request_timeouts.inc();
        tx->decision = Decision::proceed("timeout", "request_timeout passed");
      }
    } else {
      // Without lookups every check's backend has a timeout of its own that
      // is shorter than request_timeout (checked at start-up), so the
      // request needs no timer: at tens of thousands of requests a second,
      // arming and cancelling one each time is a large part of the cost.
      co_await run_checks(tx);
    }
  } catch (const std::exception& e) {
    // A bug must cost one answer, not the connection or the daemon.
    log::error("check_failed").kv("error", e.what());
    tx->decision = Decision::proceed("error", e.what());
  }
  Decision& decision = tx->decision;
  decision.headers = std::move(tx->headers);
  if (counters_ && !decision.report_row.empty()) counters_->add(decision.report_row);
  co_return tx;
}

void Pipeline::log(const Transaction& tx, std::string_view answer, double milliseconds) const {
  const CheckRequest& r = tx.request;
  const Decision& d = tx.decision;
  log::Line line(log::Level::info, "decision");
  line.kv("queue_id", r.queue_id)
      .kv("client", r.client_address)
      .kv("helo", r.helo)
      .kv("sender", r.sender)
      .kv("rcpt", r.recipient)
      .kv("verdict", d.verdict)
      .kv("reason", d.reason)
      .kv("action", answer);
  for (const auto& n : tx.notes) {
    auto eq = n.find('=');
    if (eq != std::string::npos)
      line.kv(std::string_view(n).substr(0, eq), std::string_view(n).substr(eq + 1));
  }
  for (const auto& t : tx.timings) line.kv(std::string(t.check) + "_ms", t.milliseconds);
  line.kv("ms", milliseconds);
}

}  // namespace mailsan::policyd
