// A condition that can recur thousands of times a second (accept() failing at
// the descriptor limit, Redis down for every request) logged at most once per
// interval, with the number of occurrences since the previous line:
//
//   accept_failed error="Too many open files" count=13702
//
// The first occurrence is written at once (count=1), so an operator sees a
// fault when it starts; the occurrences within the interval after a line are
// only counted, and the next line carries their number. Nothing is written
// from a timer: a condition that stops is reported by its last line.
//
// How a check uses it, e.g. the greylist check failing open while Redis is
// down (a member, so every request of the check shares one limit):
//
//   // greylist_check.hpp, #include "common/log/rate_limited.hpp"
//   log::RateLimited unavailable_log_{log::Level::warning, "greylist_unavailable"};
//
//   // greylist_check.cpp, instead of log::warning("greylist_unavailable")...
//   unavailable_log_.record([&](log::Line& line) {
//     line.kv("error", why).kv("failure_mode", g.failure_mode);
//   });
//
// which writes, during an outage, one line every 10 s such as
//   warning greylist_unavailable error="Connection refused" failure_mode=fail_open count=5210
//
// The fields given to record() are those of the occurrence that is written;
// per-request fields of suppressed occurrences are not kept, so log the
// fields that describe the condition (the error), not the request.
//
// Thread-safe: workers and the I/O thread may record the same condition.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

#include "common/log/log.hpp"

namespace mailsan::log {

class RateLimited {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimited(Level level, std::string event, Clock::duration interval = std::chrono::seconds(10),
              std::function<Clock::time_point()> now = Clock::now);
  RateLimited(const RateLimited&) = delete;
  RateLimited& operator=(const RateLimited&) = delete;

  // Counts one occurrence; when a line is due, calls add_fields(Line&) to
  // add the occurrence's key=value pairs, then appends count=N.
  template <typename AddFields>
  void record(AddFields&& add_fields) {
    std::uint64_t count = 0;
    if (!due(&count)) return;
    Line line(level_, event_);
    std::forward<AddFields>(add_fields)(line);
    line.kv("count", count);
  }
  void record() {
    record([](Line&) {});
  }

  // Occurrences counted since the last line was written.
  std::uint64_t suppressed() const;

 private:
  // True when a line is to be written now; *count is then the number of
  // occurrences it reports (this one included), and the counter restarts.
  bool due(std::uint64_t* count);

  const Level level_;
  const std::string event_;
  const Clock::duration interval_;
  const std::function<Clock::time_point()> now_;
  mutable std::mutex mutex_;
  bool written_ = false;
  Clock::time_point last_written_{};
  std::uint64_t pending_ = 0;
};

}  // namespace mailsan::log
