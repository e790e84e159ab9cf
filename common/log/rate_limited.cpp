#include "common/log/rate_limited.hpp"

namespace mailsan::log {

RateLimited::RateLimited(Level level, std::string event, Clock::duration interval,
                         std::function<Clock::time_point()> now)
    : level_(level), event_(std::move(event)), interval_(interval), now_(std::move(now)) {}

bool RateLimited::due(std::uint64_t* count) {
  std::lock_guard lock(mutex_);
  ++pending_;
  auto now = now_();
  if (written_ && now - last_written_ < interval_) return false;
  written_ = true;
  last_written_ = now;
  *count = pending_;
  pending_ = 0;
  return true;
}

std::uint64_t RateLimited::suppressed() const {
  std::lock_guard lock(mutex_);
  return pending_;
}

}  // namespace mailsan::log
