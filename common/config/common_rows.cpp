#include "common/config/common_rows.hpp"

#include <algorithm>

#include "common/daemon/process_setup.hpp"
#include "common/log/log.hpp"
#include "common/redis/address.hpp"
#include "common/redis/client.hpp"

namespace mailsan::config {

void add_common_rows(OptionTable& t, CommonConfig& c, const CommonRowDocs& docs) {
  using std::chrono::seconds;
  t.add_string("redis", &c.redis, "tcp:127.0.0.1:6379", docs.redis)
      .with_check(redis::check_address)
      .restart_only();
  t.add_string("redis_prefix", &c.redis_prefix, "mailsan:", "prefix of every Redis key");
  t.add_string("redis_password_file", &c.redis_password_file, "",
               "file whose first line is the Redis AUTH password (empty: no AUTH)")
      .restart_only();
  t.add_string("redis_sentinel_password_file", &c.redis_sentinel_password_file, "",
               "file whose first line is the sentinels' AUTH password (empty: no AUTH)")
      .restart_only();
  t.add_integer("redis_database", &c.redis_database, 0, 0, 15,
                "Redis database number (SELECT); a /DB in redis wins")
      .restart_only();
  t.add_duration("redis_timeout", &c.redis_timeout, seconds(2), seconds(1), seconds(60),
                 docs.redis_timeout)
      .restart_only();
  t.add_string("hostname", &c.hostname, "", docs.hostname);
  t.add_string("metrics_listen", &c.metrics_listen, "",
               "IP:PORT for Prometheus metrics at /metrics (empty: off)")
      .restart_only();
}

void add_common_process_rows(OptionTable& t, CommonConfig& c, const CommonRowDocs& docs) {
  t.add_choice("log", &c.log, "stderr", {"stderr", "syslog"},
               "where log lines go: stderr, or syslog with the mail facility");
  t.add_choice("log_level", &c.log_level, "info", {"debug", "info", "warning", "error"},
               docs.log_level);
  t.add_string("user", &c.user, "", docs.user).restart_only();
}

std::string effective_hostname(const CommonConfig& c) {
  return c.hostname.empty() ? daemon::host_name() : c.hostname;
}

redis::Options redis_options(const CommonConfig& c, std::chrono::milliseconds command_limit) {
  redis::Options o;
  o.address = c.redis;
  o.password_file = c.redis_password_file;
  o.sentinel_password_file = c.redis_sentinel_password_file;
  o.database = static_cast<int>(c.redis_database);
  o.command_timeout = std::min(
      std::chrono::duration_cast<std::chrono::milliseconds>(c.redis_timeout), command_limit);
  return o;
}

void init_logging(const CommonConfig& c, const char* program) {
  log::Level level = log::Level::info;
  log::parse_level(c.log_level, &level);
  log::init(program, c.log == "syslog" ? log::Sink::syslog : log::Sink::standard_error, level);
}

}  // namespace mailsan::config
