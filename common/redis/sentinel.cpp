// See sentinel.hpp. Both halves talk to the sentinels over their own
// HiredisConnection, apart from the client's connection to the master.
#include "common/redis/sentinel.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <span>
#include <string_view>
#include <vector>

#include "common/log/log.hpp"
#include "common/redis/reply.hpp"
#include "common/redis/sentinel_replies.hpp"
#include "common/util/password_file.hpp"

namespace mailsan::redis {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// A few commands on a short-lived connection: sends them all at once and
// collects the replies, or gives up at the deadline.
class Exchange final : public HiredisConnection::Events {
 public:
  explicit Exchange(asio::any_io_executor ex) : wake_(ex) {}

  asio::awaitable<std::optional<std::vector<Reply>>> run(
      asio::any_io_executor ex, const net::EndpointAddress& endpoint,
      std::span<const std::vector<std::string_view>> commands, Clock::time_point deadline,
      std::string* error) {
    auto connection = HiredisConnection::open(ex, endpoint, *this, error);
    if (connection == nullptr) co_return std::nullopt;
    expected_ = 0;
    for (const auto& argv : commands)
      if (connection->send(argv)) ++expected_;
    while (expected_ == commands.size() && replies_.size() < expected_ && connection->alive() &&
           Clock::now() < deadline) {
      wake_.expires_at(deadline);
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    const bool complete =
        expected_ == commands.size() && replies_.size() == expected_ &&
        std::all_of(replies_.begin(), replies_.end(), [](const auto& r) { return r.has_value(); });
    if (!complete)
      *error = !connection->last_error().empty() ? connection->last_error()
               : Clock::now() >= deadline        ? std::string("no answer in time")
                                                 : std::string("connection closed");
    connection->close();
    if (!complete) co_return std::nullopt;
    std::vector<Reply> out;
    for (auto& reply : replies_) out.push_back(std::move(*reply));
    co_return out;
  }

 private:
  void on_reply(const redisReply* reply) override {
    replies_.push_back(reply != nullptr ? std::optional<Reply>(to_reply(*reply)) : std::nullopt);
  }
  void on_io_done(HiredisConnection& connection) override {
    if (!connection.alive() || replies_.size() >= expected_) wake_.cancel();
  }

  asio::steady_timer wake_;
  std::size_t expected_ = 0;
  std::vector<std::optional<Reply>> replies_;
};

bool read_sentinel_password(const SentinelSettings& settings, std::string* password,
                            std::string* error) {
  return settings.password_file.empty() ||
         util::read_password_file(settings.password_file, password, error);
}

}  // namespace

asio::awaitable<std::optional<net::EndpointAddress>> discover_master(
    asio::any_io_executor ex, const SentinelSettings& settings, std::size_t* next,
    std::string* error) {
  const auto& sentinels = settings.address.nodes;
  std::string password;
  if (!read_sentinel_password(settings, &password, error)) co_return std::nullopt;
  std::vector<std::vector<std::string_view>> commands;
  if (!password.empty()) commands.push_back({"AUTH", password});
  commands.push_back({"SENTINEL", "get-master-addr-by-name", settings.address.master_name});

  error->clear();
  for (std::size_t tried = 0; tried < sentinels.size(); ++tried) {
    const std::size_t index = (*next + tried) % sentinels.size();
    const net::EndpointAddress& sentinel = sentinels[index];
    std::string why;
    Exchange exchange(ex);
    auto replies =
        co_await exchange.run(ex, sentinel, commands, Clock::now() + settings.timeout, &why);
    if (replies) {
      if (!password.empty() && replies->front().is_error()) {
        why = "AUTH: " + replies->front().str;
      } else if (auto master = master_from_reply(replies->back(), &why)) {
        *next = index;
        co_return master;
      }
    }
    if (!error->empty()) *error += "; ";
    *error += "sentinel " + endpoint_text(sentinel) + ": " + why;
  }
  co_return std::nullopt;
}

SwitchWatcher::SwitchWatcher(asio::any_io_executor ex, SentinelSettings settings,
                             OnSwitch on_switch)
    : ex_(ex), settings_(std::move(settings)), on_switch_(std::move(on_switch)), wake_(ex) {}

SwitchWatcher::~SwitchWatcher() {
  if (connection_ != nullptr) connection_->close();
}

void SwitchWatcher::start() {
  if (running_) return;
  running_ = true;
  asio::co_spawn(ex_, run(shared_from_this()), asio::detached);
}

void SwitchWatcher::stop() {
  running_ = false;
  if (connection_ != nullptr) connection_->close();
  connection_.reset();
  wake_.cancel();
}

asio::awaitable<void> SwitchWatcher::sleep_until(Clock::time_point deadline) {
  wake_.expires_at(deadline);
  co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> SwitchWatcher::run(std::shared_ptr<SwitchWatcher> self) {
  (void)self;
  // A lost subscription is only a slower failover (the client also finds
  // the new master when its connection fails): retry calmly.
  constexpr auto kRetry = std::chrono::seconds(1);
  const auto& sentinels = settings_.address.nodes;
  std::size_t next = 0;
  bool complained = false;
  while (running_) {
    const net::EndpointAddress& sentinel = sentinels[next++ % sentinels.size()];
    std::string password, error;
    if (read_sentinel_password(settings_, &password, &error)) {
      connection_ = HiredisConnection::open(ex_, sentinel, *this, &error);
    }
    if (connection_ != nullptr) {
      subscribed_ = false;
      refused_ = false;
      if (!password.empty()) {
        const std::string_view auth[] = {"AUTH", password};
        connection_->send(auth);
      }
      const std::string_view subscribe[] = {"SUBSCRIBE", "+switch-master"};
      connection_->send(subscribe);
      const auto deadline = Clock::now() + settings_.timeout;
      while (running_ && connection_ != nullptr && connection_->alive() && !subscribed_ &&
             !refused_ && Clock::now() < deadline)
        co_await sleep_until(deadline);
      if (running_ && subscribed_ && !refused_) {
        complained = false;
        log::debug("redis_sentinel_subscribed").kv("sentinel", endpoint_text(sentinel));
        while (running_ && connection_ != nullptr && connection_->alive() && !refused_)
          co_await sleep_until(Clock::time_point::max());
      }
      if (!running_) co_return;
      error = connection_ != nullptr && !connection_->last_error().empty()
                  ? connection_->last_error()
                  : std::string(refused_ ? "refused" : "no subscription");
      if (connection_ != nullptr) connection_->close();
      connection_.reset();
    }
    auto line = complained ? log::debug("redis_sentinel_watch_failed")
                           : log::warning("redis_sentinel_watch_failed");
    line.kv("sentinel", endpoint_text(sentinel)).kv("error", error);
    complained = true;
    co_await sleep_until(Clock::now() + kRetry);
  }
}

void SwitchWatcher::on_reply(const redisReply* reply) {
  if (reply == nullptr) return;
  if (reply->type == REDIS_REPLY_ERROR) {
    refused_ = true;
    return;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) return;
  const redisReply* kind = reply->element[0];
  const redisReply* payload = reply->element[2];
  if (kind->type != REDIS_REPLY_STRING) return;
  const std::string_view what(kind->str, kind->len);
  if (what == "subscribe") {
    subscribed_ = true;
    return;
  }
  if (what != "message" || payload->type != REDIS_REPLY_STRING) return;
  auto master =
      switched_master(std::string_view(payload->str, payload->len), settings_.address.master_name);
  // Posted: the client reconnects from its own turn, not from inside hiredis.
  if (master)
    asio::post(ex_, [self = shared_from_this(), master = *master] {
      if (self->running_) self->on_switch_(master);
    });
}

void SwitchWatcher::on_io_done(HiredisConnection& connection) {
  if (!connection.alive() || subscribed_ || refused_) wake_.cancel();
}

}  // namespace mailsan::redis
