// The options every daemon has in the same form (SPEC §4, §6): the shared
// Redis, the MX's name, metrics, logging and the user to run as. They are
// declared here once, so that a name, default or bound cannot drift between
// policyd.conf and filter.conf. Each daemon's config struct derives from
// CommonConfig and adds these rows to its own options table.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/config/option_table.hpp"

namespace mailsan::redis {
struct Options;
}

namespace mailsan::config {

struct CommonConfig {
  std::string redis;
  std::string redis_prefix;
  std::string redis_password_file;
  std::string redis_sentinel_password_file;
  std::int64_t redis_database = 0;
  std::chrono::seconds redis_timeout{2};
  std::string hostname;
  std::string metrics_listen;
  std::string log;
  std::string log_level;
  std::string user;
};

// The doc lines that say what the row serves in each daemon (policyd's
// redis_timeout is also bounded by its request deadline, the filter's
// hostname is in its greeting too); a daemon replaces those that differ.
struct CommonRowDocs {
  std::string redis =
      "the Redis shared by every MX: tcp:HOST:PORT[/DB], unix:/path[/DB] or "
      "sentinel:NAME@HOST:PORT[,HOST:PORT...][/DB] (the master the sentinels name)";
  std::string redis_timeout = "a Redis command not answered in this time is a Redis failure";
  std::string hostname = "this MX's name, used in added headers (empty: the system host name)";
  std::string log_level = "least severe level that is logged; each decision is logged at info";
  std::string user = "unprivileged user to run as after binding the sockets (empty: stay)";
};

// Adds redis, redis_prefix, redis_password_file, redis_sentinel_password_file, redis_database,
// redis_timeout, hostname and metrics_listen, in that order. The Redis
// connection and the metrics socket are made once at start, so those rows
// are restart-only.
void add_common_rows(OptionTable& table, CommonConfig& config, const CommonRowDocs& docs = {});
// Adds log, log_level and user, in that order; user is restart-only (the
// privileges are dropped once).
void add_common_process_rows(OptionTable& table, CommonConfig& config,
                             const CommonRowDocs& docs = {});

// The configured hostname, or the system's when none is configured.
std::string effective_hostname(const CommonConfig& config);

// Points logging at the configured sink and level, for `program`
// ("mailsan-policyd"); called at start and after each reload.
void init_logging(const CommonConfig& config, const char* program);

// The Redis client's options from the rows. A command fails after
// redis_timeout, or after `command_limit` when that is shorter (a daemon
// whose requests have a deadline passes what is left of it).
redis::Options redis_options(const CommonConfig& config, std::chrono::milliseconds command_limit =
                                                             std::chrono::milliseconds::max());

}  // namespace mailsan::config
