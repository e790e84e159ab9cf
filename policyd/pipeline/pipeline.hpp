// The check pipeline of SPEC §2.1: every check's lookups start at once and run
// concurrently; then the checks decide in order and the first decisive
// verdict wins; all of it under one deadline (request_timeout), past which the
// answer is DUNNO so Postfix is never held past its own timeout.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/stats/daily_counters.hpp"
#include "policyd/pipeline/check.hpp"
#include "policyd/pipeline/transaction.hpp"
#include "policyd/policyd_metrics.hpp"
#include "policyd/protocol/policy_request.hpp"

namespace mailsan::policyd {

class Pipeline {
 public:
  Pipeline(boost::asio::any_io_executor ex, PolicydMetrics& metrics)
      : executor_(std::move(ex)), metrics_(metrics) {}

  void add(std::unique_ptr<Check> check) { checks_.push_back(std::move(check)); }
  void set_request_timeout(std::chrono::milliseconds t) { request_timeout_ = t; }
  // The shared report counters (SPEC §5); null: none.
  void set_counters(stats::DailyCounters* counters) { counters_ = counters; }

  // The policy action for one request (without "action="). Never throws.
  boost::asio::awaitable<std::string> evaluate(const PolicyRequest& request,
                                               MessageHeaders& headers);

 private:
  boost::asio::awaitable<std::optional<Decision>> run_checks(std::shared_ptr<Transaction> tx);
  void log_decision(const Transaction& tx, const Decision& d, std::string_view action,
                    double ms) const;

  boost::asio::any_io_executor executor_;
  PolicydMetrics& metrics_;
  std::vector<std::unique_ptr<Check>> checks_;
  std::chrono::milliseconds request_timeout_{8000};
  stats::DailyCounters* counters_ = nullptr;
};

// The row of `mailsanctl report` a decision counts in, or empty.
std::string_view report_field(const Decision& decision);

}  // namespace mailsan::policyd
