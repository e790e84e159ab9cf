// The blocking Redis connection of mailsanctl (see redis_sync.hpp): the
// same address forms as the daemons (common/redis/address.hpp), with the
// master found through the sentinels for a sentinel: address.
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
#include "common/redis/address.hpp"
#include "common/redis/sentinel_replies.hpp"
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

// One server, connected with the timeouts and authenticated; no SELECT.
std::unique_ptr<SyncRedis> SyncRedis::open(const net::EndpointAddress& endpoint,
                                           const redis::Options& settings,
                                           const std::string& password_file, std::string* error) {
  std::string password;
  if (!password_file.empty() && !util::read_password_file(password_file, &password, error))
    return nullptr;
  const timeval connect_tv = to_timeval(settings.connect_timeout);
  const timeval tv = to_timeval(settings.command_timeout);
  redisContext* context =
      endpoint.kind == net::EndpointAddress::Kind::unix_socket
          ? redisConnectUnixWithTimeout(endpoint.path.c_str(), connect_tv)
          : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, connect_tv);
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
  if (!password.empty() && !redis->expect_ok({"AUTH", password}, "Redis AUTH", error))
    return nullptr;
  return redis;
}

bool SyncRedis::expect_ok(std::initializer_list<std::string_view> argv, const char* what,
                          std::string* error) {
  auto reply = command(argv);
  if (!reply) {
    *error = std::string(what) + " failed: " + error_;
    return false;
  }
  if (reply->is_error()) {
    *error = std::string(what) + " refused: " + reply->str;
    return false;
  }
  return true;
}

// The master as the sentinels name it, asking each in turn, confirmed with
// ROLE (a sentinel cut off from the others may name the old master).
std::unique_ptr<SyncRedis> SyncRedis::open_sentinel_master(const redis::Address& address,
                                                           const redis::Options& settings,
                                                           std::string* error) {
  std::string reasons;
  for (const net::EndpointAddress& sentinel_endpoint : address.nodes) {
    std::string why;
    std::optional<net::EndpointAddress> master;
    if (auto sentinel = open(sentinel_endpoint, settings, settings.sentinel_password_file, &why)) {
      auto reply = sentinel->command({"SENTINEL", "get-master-addr-by-name", address.master_name});
      if (!reply)
        why = sentinel->error();
      else
        master = redis::master_from_reply(*reply, &why);
    }
    if (master) {
      if (auto server = open(*master, settings, settings.password_file, &why)) {
        auto role = server->command({"ROLE"});
        std::string said;
        if (role && redis::role_is_master(*role, &said)) return server;
        why = redis::endpoint_text(*master) +
              " is not a master (ROLE: " + (role ? said : server->error()) + ")";
      } else {
        why = redis::endpoint_text(*master) + ": " + why;
      }
    }
    if (!reasons.empty()) reasons += "; ";
    reasons += "sentinel " + redis::endpoint_text(sentinel_endpoint) + ": " + why;
  }
  *error = "no master from the sentinels: " + reasons;
  return nullptr;
}

std::unique_ptr<SyncRedis> SyncRedis::connect(const redis::Options& settings, std::string* error) {
  std::string parse_error;
  auto address = redis::parse_address(settings.address, &parse_error);
  if (!address) {
    *error = "bad Redis address " + settings.address + ": " + parse_error;
    return nullptr;
  }
  if (std::string unsupported = redis::unsupported_reason(*address); !unsupported.empty()) {
    *error = unsupported;
    return nullptr;
  }
  auto redis = address->kind == redis::Address::Kind::sentinel
                   ? open_sentinel_master(*address, settings, error)
                   : open(address->server, settings, settings.password_file, error);
  if (redis == nullptr) return nullptr;
  const int database_number = address->database.value_or(settings.database);
  const std::string database = std::to_string(database_number);
  if (database_number != 0 && !redis->expect_ok({"SELECT", database}, "Redis SELECT", error))
    return nullptr;
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
