// A blocking Redis connection for mailsanctl: the RAII owner of one hiredis
// redisContext (synchronous API), connected, authenticated (AUTH with the
// first line of the password file) and on the configured database (SELECT)
// before it is handed out. The daemons use the async common/redis client;
// a command-line tool that sends a handful of commands and exits needs
// neither an event loop nor reconnects.
//
// Failures are values: connect() returns null with the reason, command()
// returns nullopt with the reason in error(). A Redis error reply ("-ERR
// ...") is a reply, not a failure. After a transport failure every later
// command fails too.
#pragma once

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/net/endpoint_address.hpp"
#include "common/redis/address.hpp"
#include "common/redis/client.hpp"
#include "common/redis/reply.hpp"

struct redisContext;

namespace mailsan::ctl {

class SyncRedis {
 public:
  // The daemons' client options: address (any form but cluster:, the
  // master asked of the sentinels in turn), password_file,
  // sentinel_password_file, database,
  // connect_timeout for the connect and command_timeout for each command
  // (the reconnect backoff does not apply: a failure is final here).
  static std::unique_ptr<SyncRedis> connect(const redis::Options& settings, std::string* error);
  ~SyncRedis();
  SyncRedis(const SyncRedis&) = delete;
  SyncRedis& operator=(const SyncRedis&) = delete;

  // One command, argv form (binary safe).
  std::optional<redis::Reply> command(std::span<const std::string_view> argv);
  std::optional<redis::Reply> command(std::initializer_list<std::string_view> argv) {
    return command(std::span<const std::string_view>(argv.begin(), argv.size()));
  }
  // Why the last command failed.
  const std::string& error() const { return error_; }

 private:
  explicit SyncRedis(redisContext* context) : context_(context) {}
  static std::unique_ptr<SyncRedis> open(const net::EndpointAddress& endpoint,
                                         const redis::Options& settings,
                                         const std::string& password_file, std::string* error);
  static std::unique_ptr<SyncRedis> open_sentinel_master(const redis::Address& address,
                                                         const redis::Options& settings,
                                                         std::string* error);
  bool expect_ok(std::initializer_list<std::string_view> argv, const char* what,
                 std::string* error);

  redisContext* context_;
  std::string error_;
};

}  // namespace mailsan::ctl
