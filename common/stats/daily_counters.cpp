#include "common/stats/daily_counters.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mailsan::stats {
namespace asio = boost::asio;

std::string day_of(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string day_key(std::string_view prefix, std::string_view day) {
  std::string key(prefix);
  key.append("stats:").append(day);
  return key;
}

struct DailyCounters::State {
  State(asio::any_io_executor ex, redis::Client& r, std::string p, std::chrono::milliseconds i)
      : timer(ex), redis(r), prefix(std::move(p)), interval(i) {}
  asio::steady_timer timer;
  redis::Client& redis;
  std::string prefix;
  std::chrono::milliseconds interval;
  std::map<std::string, std::int64_t, std::less<>> pending;
  bool running = false;
  bool flushing = false;

  asio::awaitable<void> flush() {
    if (flushing || pending.empty()) co_return;
    flushing = true;
    auto batch = std::move(pending);
    pending.clear();
    const std::string key = day_key(prefix, day_of(std::time(nullptr)));
    for (auto& [field, n] : batch) {
      std::string count = std::to_string(n);
      redis::Result r = co_await redis.command("HINCRBY", key, field, count);
      // Kept for the next flush; a bound keeps a long outage from growing it.
      if (r.ec || r.reply.is_error()) {
        if (pending.size() < 1000) pending[field] += n;
      }
    }
    // Reports read back a year or so; older days expire on their own.
    redis::Result e = co_await redis.command("EXPIRE", key, "34560000");
    (void)e;
    flushing = false;
  }
};

DailyCounters::DailyCounters(asio::any_io_executor ex, redis::Client& redis, std::string prefix,
                             std::chrono::milliseconds flush_interval)
    : state_(std::make_shared<State>(std::move(ex), redis, std::move(prefix), flush_interval)) {}

DailyCounters::~DailyCounters() {
  state_->running = false;
  state_->timer.cancel();
}

void DailyCounters::start() {
  if (state_->running) return;
  state_->running = true;
  auto s = state_;
  asio::co_spawn(
      s->timer.get_executor(),
      [s]() -> asio::awaitable<void> {
        while (s->running) {
          s->timer.expires_after(s->interval);
          auto [ec] = co_await s->timer.async_wait(asio::as_tuple(asio::use_awaitable));
          co_await s->flush();
          if (ec) break;
        }
      },
      asio::detached);
}

void DailyCounters::stop() {
  state_->running = false;
  state_->timer.cancel();
}

asio::awaitable<void> DailyCounters::flush() {
  auto s = state_;
  co_await s->flush();
}

void DailyCounters::add(std::string_view field, std::int64_t n) {
  auto it = state_->pending.find(field);
  if (it == state_->pending.end())
    state_->pending.emplace(std::string(field), n);
  else
    it->second += n;
}

}  // namespace mailsan::stats
