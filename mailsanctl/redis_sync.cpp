// The blocking Redis connection of mailsanctl (see redis_sync.hpp).
//
// SECURITY: replies come from the shared Redis, which every MX (and anyone
// who can reach it) can write: they are copied as bytes here and checked by
// the callers (ids with valid_quarantine_id, records with the strict
// decoder) before anything is done with them.
#include "mailsanctl/redis_sync.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <vector>

#include "common/net/endpoint_address.hpp"
#include "common/util/password_file.hpp"

namespace mailsan::ctl {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

std::unique_ptr<SyncRedis> SyncRedis::connect(const redis::Options& settings, std::string* error) {
  std::string parse_error;
  auto endpoint = net::parse_endpoint(settings.address, &parse_error);
  if (!endpoint) {
    *error = "bad Redis address " + settings.address + ": " + parse_error;
    return nullptr;
  }
  std::string password;
  if (!settings.password_file.empty() &&
      !util::read_password_file(settings.password_file, &password, error))
    return nullptr;

  const timeval connect_tv = to_timeval(settings.connect_timeout);
  const timeval tv = to_timeval(settings.command_timeout);
  redisContext* context =
      endpoint->kind == net::EndpointAddress::Kind::unix_socket
          ? redisConnectUnixWithTimeout(endpoint->path.c_str(), connect_tv)
          : redisConnectWithTimeout(endpoint->host.c_str(), endpoint->port, connect_tv);
  if (context == nullptr) {
    *error = "cannot allocate a Redis context";
    return nullptr;
  }
  std::unique_ptr<SyncRedis> redis(new SyncRedis(context));
  if (context->err != 0) {
    *error = std::string("cannot connect: ") + context->errstr;
    return nullptr;
  }
  // The connect timeout does not cover the commands; without this a Redis
  // that accepts and then hangs would hang mailsanctl.
  if (redisSetTimeout(context, tv) != REDIS_OK) {
    *error = "cannot set the Redis timeout: " + std::string(context->errstr);
    return nullptr;
  }

  auto expect_ok = [&](std::initializer_list<std::string_view> argv, const char* what) {
    auto reply = redis->command(argv);
    if (!reply) {
      *error = std::string(what) + " failed: " + redis->error();
      return false;
    }
    if (reply->is_error()) {
      *error = std::string(what) + " refused: " + reply->str;
      return false;
    }
    return true;
  };
  if (!password.empty() && !expect_ok({"AUTH", password}, "Redis AUTH")) return nullptr;
  const std::string database = std::to_string(settings.database);
  if (settings.database != 0 && !expect_ok({"SELECT", database}, "Redis SELECT")) return nullptr;
  return redis;
}

SyncRedis::~SyncRedis() {
  if (context_ != nullptr) redisFree(context_);
}

std::optional<redis::Reply> SyncRedis::command(std::span<const std::string_view> argv) {
  if (context_->err != 0) {
    error_ = context_->errstr;
    return std::nullopt;
  }
  std::vector<const char*> args;
  std::vector<std::size_t> lengths;
  for (std::string_view a : argv) {
    args.push_back(a.empty() ? "" : a.data());
    lengths.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(args.size()), args.data(), lengths.data()));
  if (reply == nullptr) {
    error_ = context_->err != 0 ? context_->errstr : "no reply";
    return std::nullopt;
  }
  redis::Reply out = redis::to_reply(*reply);
  freeReplyObject(reply);
  return out;
}

}  // namespace mailsan::ctl
