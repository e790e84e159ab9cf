// The check pipeline of SPEC §2.1: checks that decide from the request alone
// (whitelists) decide first; then every check's lookups start at once and
// run concurrently; then the checks decide in order and the first decisive
// verdict wins; all of it under one deadline (request_timeout), past which
// the answer is "continue" so the MTA is never held past its own timeout.
//
// Built by build_pipeline() (policyd/checks.hpp) and immutable afterwards.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "common/stats/daily_counters.hpp"
#include "policyd/pipeline/check.hpp"
#include "policyd/pipeline/check_request.hpp"
#include "policyd/pipeline/decision.hpp"
#include "policyd/policyd_metrics.hpp"

namespace mailsan::policyd {

class Pipeline {
 public:
  // counters: the shared report counters (SPEC §5); null: none.
  Pipeline(boost::asio::any_io_executor ex, PolicydMetrics& metrics,
           std::chrono::milliseconds request_timeout, stats::DailyCounters* counters);

  void add(std::shared_ptr<Check> check);
  std::chrono::milliseconds request_timeout() const { return request_timeout_; }
  std::vector<std::string_view> check_names() const;

  // The transaction of one request, its `decision` set (with the headers
  // due). Never throws: a failing check costs its request a "continue".
  // The decision travels in the shared transaction rather than in the
  // coroutine's result, so every frame of the request stays small.
  boost::asio::awaitable<std::shared_ptr<Transaction>> evaluate(CheckRequest request) const;

  // The decision log line (SPEC §6); `answer` is the reply as the front end
  // wrote it for its protocol.
  void log(const Transaction& tx, std::string_view answer, double milliseconds) const;

 private:
  // True when a check decided (tx->decision is set).
  boost::asio::awaitable<bool> run_checks(std::shared_ptr<Transaction> tx) const;
  // Latency, timing and the deciding check's name, after a check decided.
  bool decided(const Check& check, Transaction& tx, std::chrono::steady_clock::time_point start,
               std::optional<Decision>& d) const;

  boost::asio::any_io_executor executor_;
  PolicydMetrics& metrics_;
  std::chrono::milliseconds request_timeout_;
  stats::DailyCounters* counters_;
  std::vector<std::shared_ptr<Check>> checks_;
  bool has_lookups_ = false;
};

}  // namespace mailsan::policyd
