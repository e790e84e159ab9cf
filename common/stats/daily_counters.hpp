// The report counters every daemon on every MX adds to (SPEC §4, §5): one
// Redis hash per day, PREFIX "stats:" YYYY-MM-DD (UTC), with a field per
// row of `mailsanctl report` (user_unknown, greylisted, spam, ...).
//
// Counts are gathered in process and flushed once a second with HINCRBY, so
// the decision path never waits for Redis and a busy MX sends a handful of
// commands a second, not one per message. A count made just before midnight
// may land in the next day's hash; counts that cannot be flushed (Redis
// down) are kept and flushed later, up to a bound.
//
// Single-threaded: use from the executor's thread only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/redis/client.hpp"

namespace mailsan::stats {

// "2026-11-27" for a unix time, UTC.
std::string day_of(std::time_t t);
// PREFIX "stats:" DAY
std::string day_key(std::string_view prefix, std::string_view day);

class DailyCounters {
 public:
  DailyCounters(boost::asio::any_io_executor ex, redis::Client& redis, std::string prefix,
                std::chrono::milliseconds flush_interval = std::chrono::seconds(1));
  ~DailyCounters();
  DailyCounters(const DailyCounters&) = delete;
  DailyCounters& operator=(const DailyCounters&) = delete;

  void start();
  // Stops the timer; co_await flush() afterwards to send what is pending
  // before the Redis client stops.
  void stop();
  boost::asio::awaitable<void> flush();
  void add(std::string_view field, std::int64_t n = 1);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace mailsan::stats
