#include "policyd/callout/callout_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log/log.hpp"
#include "common/util/ascii.hpp"
#include "common/util/sha1.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

CalloutKeys callout_keys(std::string_view prefix, std::string_view address) {
  // SHA-1, not the greylist's FNV: a sender chooses its address, and must
  // not be able to aim it at another address's cached verdict.
  const std::string tag = "{" + util::sha1_hex(util::ascii_lower(address)) + "}";
  CalloutKeys k;
  k.verdict.append(prefix).append("callout:").append(tag);
  k.lock.append(prefix).append("callout-lock:").append(tag);
  return k;
}

CalloutService::CalloutService(asio::any_io_executor ex, dns::Resolver& resolver,
                               redis::Client& redis, PolicydMetrics& metrics)
    : executor_(ex), redis_(redis), metrics_(metrics), prober_(ex, resolver), limiter_(ex, 4) {}

void CalloutService::configure(CalloutSettings settings) {
  limiter_.set_limit(settings.max_per_domain);
  settings_ = std::make_shared<const CalloutSettings>(std::move(settings));
}

asio::awaitable<std::optional<CalloutResult>> CalloutService::cached(std::string address) {
  std::shared_ptr<const CalloutSettings> s = settings_;
  CalloutKeys keys = callout_keys(s->prefix, address);
  redis::Result r = co_await redis_.command("GET", keys.verdict);
  if (r.ec || r.reply.is_error()) {
    metrics_.redis_errors.inc();
    co_return std::nullopt;
  }
  if (r.reply.type != redis::Reply::Type::string) co_return std::nullopt;
  std::optional<CalloutResult> result = decode_callout_result(r.reply.str);
  if (!result) log::warning("callout_cache_malformed").kv("key", keys.verdict);
  co_return result;
}

asio::awaitable<std::optional<CalloutResult>> CalloutService::verify(std::string address,
                                                                     std::string domain,
                                                                     Clock::time_point until) {
  std::shared_ptr<const CalloutSettings> s = settings_;
  std::string id = util::ascii_lower(address);
  std::shared_ptr<Pending> pending;
  if (auto it = pending_.find(id); it != pending_.end()) {
    pending = it->second;
    metrics_.check_outcome("callout", "joined").inc();
  } else {
    if (pending_.size() >= s->max_in_flight) {
      // SPEC §7: callouts in flight are bounded; past the bound the sender
      // is simply not verified now (unknown, which greylists).
      metrics_.check_outcome("callout", "busy").inc();
      CalloutResult busy;
      busy.reason = "too_many_callouts";
      co_return busy;
    }
    pending = std::make_shared<Pending>(executor_);
    pending->done.expires_at(Clock::time_point::max());
    pending_.emplace(id, pending);
    asio::co_spawn(executor_, run(std::move(address), std::move(domain), pending, s),
                   asio::detached);
  }
  if (!pending->result) {
    asio::steady_timer deadline(executor_, until);
    co_await (pending->done.async_wait(asio::as_tuple(asio::use_awaitable)) ||
              deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
  }
  co_return pending->result;
}

asio::awaitable<void> CalloutService::run(std::string address, std::string domain,
                                          std::shared_ptr<Pending> pending,
                                          std::shared_ptr<const CalloutSettings> settings) {
  const CalloutSettings& s = *settings;
  CalloutKeys keys = callout_keys(s.prefix, address);
  auto started = Clock::now();
  CalloutResult result;
  try {
    result = co_await locked_probe(address, domain, keys, s);
  } catch (const std::exception& e) {
    log::error("callout_failed").kv("sender", address).kv("error", e.what());
    result.reason = "error";
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  log::info("callout")
      .kv("sender", address)
      .kv("verdict", to_string(result.verdict))
      .kv("reason", result.reason)
      .kv("mx", result.mx_host)
      .kv("ip", result.mx_ip)
      .kv("reply", result.reply)
      .kv("ms", ms);
  metrics_.check_outcome("callout_probe", result.reason).inc();

  // A verdict that only says another MX is busy with the address is not
  // worth remembering: that MX caches the real one.
  if (result.reason != "in_progress_elsewhere") {
    std::chrono::seconds ttl = result.verdict == CalloutResult::Verdict::valid     ? s.valid_ttl
                               : result.verdict == CalloutResult::Verdict::invalid ? s.invalid_ttl
                                                                                   : s.unknown_ttl;
    std::string value = encode_callout_result(address, result);
    std::string seconds = std::to_string(ttl.count());
    if (ttl.count() > 0) {
      redis::Result set = co_await redis_.command("SET", keys.verdict, value, "EX", seconds);
      if (set.ec || set.reply.is_error()) metrics_.redis_errors.inc();
    }
    redis::Result unlock = co_await redis_.command("DEL", keys.lock);
    if (unlock.ec) metrics_.redis_errors.inc();
  }
  pending->result = std::move(result);
  pending->done.cancel();
  pending_.erase(util::ascii_lower(address));
}

asio::awaitable<CalloutResult> CalloutService::locked_probe(const std::string& address,
                                                            const std::string& domain,
                                                            const CalloutKeys& keys,
                                                            const CalloutSettings& s) {
  // Another MX verifying this address right now holds the lock; its verdict
  // lands in the cache for the retry. Without Redis the callout goes ahead:
  // only the sharing is lost.
  std::string lock_ms = std::to_string(s.probe.total_timeout.count() + 1000);
  redis::Result lock = co_await redis_.command("SET", keys.lock, "1", "NX", "PX", lock_ms);
  if (lock.ec || lock.reply.is_error()) {
    metrics_.redis_errors.inc();
  } else if (lock.reply.is_nil()) {
    CalloutResult elsewhere;
    elsewhere.reason = "in_progress_elsewhere";
    co_return elsewhere;
  }
  DomainLimiter::Slot slot = co_await limiter_.acquire(util::ascii_lower(domain));
  co_return co_await prober_.verify(address, domain, s.probe);
}

}  // namespace mailsan::policyd
