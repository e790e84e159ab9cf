#include "policyd/pipeline/pipeline.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

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

asio::awaitable<std::optional<Decision>> Pipeline::run_checks(std::shared_ptr<Transaction> tx) {
  // Lookups run as their own coroutines holding the transaction, so one that
  // outlives the deadline finishes harmlessly (and may still fill a cache).
  std::size_t pending = 0;
  for (const auto& c : checks_)
    if (c->has_lookup()) ++pending;
  if (pending > 0) {
    auto all_done = std::make_shared<asio::steady_timer>(executor_, Clock::time_point::max());
    auto left = std::make_shared<std::size_t>(pending);
    for (const auto& c : checks_) {
      if (!c->has_lookup()) continue;
      Check* check = c.get();
      asio::co_spawn(
          executor_,
          [check, tx, all_done, left]() -> asio::awaitable<void> {
            auto start = Clock::now();
            try {
              co_await check->lookup(*tx);
            } catch (const std::exception& e) {
              log::error("lookup_failed").kv("check", check->name()).kv("error", e.what());
            }
            tx->timings.push_back({check->name(), ms_since(start)});
            if (--*left == 0) all_done->cancel();
          },
          asio::detached);
    }
    // co_spawn may run a lookup to its end before returning (a cache hit that
    // never suspends); then there is nothing left to wait for.
    if (*left > 0) co_await all_done->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  for (const auto& c : checks_) {
    if (!c->enabled()) continue;
    auto start = Clock::now();
    std::optional<Decision> d = co_await c->decide(*tx);
    double ms = ms_since(start);
    metrics_.check_latency(c->name()).observe(ms / 1000.0);
    if (!c->has_lookup()) tx->timings.push_back({c->name(), ms});
    if (d) {
      d->check = c->name();
      co_return d;
    }
    if (tx->skip_all) break;
  }
  co_return std::nullopt;
}

asio::awaitable<std::string> Pipeline::evaluate(const PolicyRequest& request,
                                                MessageHeaders& headers) {
  auto start = Clock::now();
  metrics_.requests.inc();
  headers.begin(request.instance());

  // Only RCPT is checked (SPEC §2); at the other stages a due header is handed
  // out, which is why the shipped wiring also asks at DATA.
  if (request.protocol_state() != "RCPT") {
    std::string h = headers.next();
    metrics_.verdict(h.empty() ? "dunno" : "prepend").inc();
    co_return h.empty() ? std::string("DUNNO") : "PREPEND " + h;
  }

  auto tx = std::make_shared<Transaction>(request);
  tx->client_ip = net::IpAddress::parse(request.client_address());

  // Asked per request: a reload may turn a check's lookups on or off.
  bool has_lookups = false;
  for (const auto& c : checks_) has_lookups = has_lookups || c->has_lookup();

  Decision decision{"DUNNO", "dunno", ""};
  try {
    if (has_lookups) {
      asio::steady_timer deadline(executor_, request_timeout_);
      auto outcome = co_await (run_checks(tx) || deadline.async_wait(asio::use_awaitable));
      if (outcome.index() == 0) {
        if (auto& d = std::get<0>(outcome)) decision = std::move(*d);
      } else {
        metrics_.request_timeouts.inc();
        decision = {"DUNNO", "timeout", "request_timeout passed"};
      }
    } else if (auto d = co_await run_checks(tx)) {
      // Without lookups every check's backend has a timeout of its own that
      // is shorter than request_timeout (checked at start-up), so the
      // request needs no timer: at tens of thousands of requests a second,
      // arming and cancelling one each time is a large part of the cost.
      decision = std::move(*d);
    }
  } catch (const std::exception& e) {
    // A bug must cost one answer, not the connection or the daemon.
    log::error("check_failed").kv("error", e.what());
    decision = {"DUNNO", "error", e.what()};
  }

  for (auto& h : tx->headers) headers.add(std::move(h));
  std::string action = std::move(decision.action);
  if (action == "DUNNO") {
    if (std::string h = headers.next(); !h.empty()) {
      action = "PREPEND " + h;
      if (decision.verdict == "dunno") decision.verdict = "prepend";
    }
  }
  metrics_.verdict(decision.verdict).inc();
  if (counters_)
    if (std::string_view field = report_field(decision); !field.empty()) counters_->add(field);
  double ms = ms_since(start);
  if (log::min_level() <= log::Level::info) log_decision(*tx, decision, action, ms);
  co_return action;
}

std::string_view report_field(const Decision& d) {
  if (d.verdict == "reject") {
    if (d.check == "recipient") return "user_unknown";
    if (d.check == "callout") return "sender_verify";
    if (d.check == "spf") return "spf_fail";
    if (d.check == "dnsbl") return "dnsbl";
  }
  if (d.verdict == "defer" && d.check == "greylist") return "greylisted";
  return {};
}

void Pipeline::log_decision(const Transaction& tx, const Decision& d, std::string_view action,
                            double ms) const {
  const auto& r = tx.request;
  log::Line line(log::Level::info, "decision");
  line.kv("queue_id", r.queue_id())
      .kv("client", r.client_address())
      .kv("helo", r.helo_name())
      .kv("sender", r.sender())
      .kv("rcpt", r.recipient())
      .kv("verdict", d.verdict)
      .kv("reason", d.reason)
      .kv("action", action);
  for (const auto& n : tx.notes) {
    auto eq = n.find('=');
    if (eq != std::string::npos)
      line.kv(std::string_view(n).substr(0, eq), std::string_view(n).substr(eq + 1));
  }
  for (const auto& t : tx.timings) line.kv(std::string(t.check) + "_ms", t.milliseconds);
  line.kv("ms", ms);
}

}  // namespace mailsan::policyd
