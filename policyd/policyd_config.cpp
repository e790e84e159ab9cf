#include "policyd/policyd_config.hpp"

#include <unistd.h>

#include <stdexcept>

#include "common/config/values.hpp"
#include "common/net/endpoint_address.hpp"
#include "policyd/whitelist/whitelist.hpp"

namespace mailsan::policyd {
namespace {

std::string this_host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// Row checks, so that --check-config and start-up report a bad value with
// the file and line like any other.
void check_endpoint(const std::string& value) {
  std::string error;
  if (!net::parse_endpoint(value, &error)) throw std::invalid_argument(error);
}

void check_client_entries(const std::string& value) {
  ClientList list;
  std::string error;
  for (const auto& entry : config::split_list(value))
    if (!list.add(entry, &error)) throw std::invalid_argument(error);
}

void check_recipient_entries(const std::string& value) {
  RecipientList list;
  std::string error;
  for (const auto& entry : config::split_list(value))
    if (!list.add(entry, &error)) throw std::invalid_argument(error);
}

void check_readable_files(const std::string& value) {
  for (const auto& path : config::split_list(value))
    if (::access(path.c_str(), R_OK) != 0) throw std::invalid_argument("cannot read " + path);
}

}  // namespace

std::string effective_hostname(const PolicydConfig& c) {
  return c.hostname.empty() ? this_host_name() : c.hostname;
}

config::OptionTable make_option_table(PolicydConfig& c) {
  using std::chrono::seconds;
  constexpr std::int64_t kDay = 86400;
  config::OptionTable t("policyd");
  t.add_string("listen", &c.listen, "inet:127.0.0.1:10040",
               "where Postfix's check_policy_service connects: inet:HOST:PORT or unix:/path")
      .with_check(check_endpoint);
  t.add_string("redis", &c.redis, "tcp:127.0.0.1:6379",
               "the Redis shared by every MX: tcp:HOST:PORT or unix:/path")
      .with_check(check_endpoint);
  t.add_string("redis_prefix", &c.redis_prefix, "mailsan:", "prefix of every Redis key");
  t.add_string("redis_password_file", &c.redis_password_file, "",
               "file whose first line is the Redis AUTH password (empty: no AUTH)");
  t.add_integer("redis_database", &c.redis_database, 0, 0, 15, "Redis database number (SELECT)");
  t.add_duration("redis_timeout", &c.redis_timeout, seconds(2), seconds(1), seconds(60),
                 "a Redis command not answered in this time (at most request_timeout - 0.5 s) is a Redis failure");
  t.add_string("hostname", &c.hostname, "",
               "this MX's name, used in added headers (empty: the system host name)");
  t.add_string("metrics_listen", &c.metrics_listen, "",
               "HOST:PORT for Prometheus metrics at /metrics (empty: off)");
  t.add_duration("request_timeout", &c.request_timeout, seconds(8), seconds(1), seconds(300),
                 "deadline for all checks of one request; past it the answer is DUNNO");
  t.add_list("local_domains", &c.local_domains, "",
             "domains this MX accepts mail for (recipient validation, no callouts)");
  t.add_choice("log", &c.log, "stderr", {"stderr", "syslog"},
               "where log lines go: stderr, or syslog with the mail facility");
  t.add_choice("log_level", &c.log_level, "info", {"debug", "info", "warning", "error"},
               "least severe level that is logged; each decision is logged at info");
  t.add_string("user", &c.user, "",
               "unprivileged user to run as after binding the sockets (empty: stay)");
  t.add_integer("max_connections", &c.max_connections, 4096, 1, 1000000,
                "concurrent policy connections; more are closed at once and logged");
  t.add_duration("whitelist_reload_interval", &c.whitelist_reload_interval, seconds(10), seconds(1),
                 seconds(3600), "how often whitelist files are checked for changes");

  t.add_bool("whitelist.sasl_authenticated", &c.whitelist.sasl_authenticated, true,
             "SASL-authenticated clients skip every check");
  t.add_list("whitelist.clients", &c.whitelist.clients, "",
             "clients that skip every check: CIDR, .domain.suffix, host.name or /regex/")
      .with_check(check_client_entries);
  t.add_list("whitelist.client_files", &c.whitelist.client_files, "",
             "files with more client entries, one a line; reloaded when they change")
      .with_check(check_readable_files);
  t.add_list("whitelist.recipients", &c.whitelist.recipients, "postmaster@, abuse@",
             "recipients that skip greylisting but are still validated: user@, @domain or user@domain")
      .with_check(check_recipient_entries);
  t.add_list("whitelist.ccert_fingerprints", &c.whitelist.ccert_fingerprints, "",
             "TLS client-certificate fingerprints that skip every check");

  t.add_bool("greylist.enable", &c.greylist.enable, true, "greylist unknown triplets");
  t.add_duration("greylist.delay", &c.greylist.delay, seconds(300), seconds(0), seconds(kDay),
                 "how long a new triplet is deferred");
  t.add_duration("greylist.retry_window", &c.greylist.retry_window, seconds(2 * kDay), seconds(60),
                 seconds(30 * kDay), "how long after the first attempt a retry still passes");
  t.add_duration("greylist.max_age", &c.greylist.max_age, seconds(35 * kDay), seconds(3600),
                 seconds(365 * kDay), "how long a passed triplet or whitelisted client is kept after it was last seen");
  t.add_integer("greylist.auto_whitelist", &c.greylist.auto_whitelist, 5, 0, 1000000,
                "passes after which a client network skips greylisting (0: never)");
  t.add_duration("greylist.auto_whitelist_interval", &c.greylist.auto_whitelist_interval,
                 seconds(3600), seconds(0), seconds(kDay),
                 "a client network's passes count at most once in this interval");
  t.add_integer("greylist.ipv4_prefix", &c.greylist.ipv4_prefix, 24, 8, 32,
                "IPv4 clients are greylisted by network of this prefix length");
  t.add_integer("greylist.ipv6_prefix", &c.greylist.ipv6_prefix, 64, 16, 128,
                "IPv6 clients are greylisted by network of this prefix length");
  t.add_choice("greylist.failure_mode", &c.greylist.failure_mode, "fail_open",
               {"fail_open", "fail_closed"},
               "Redis down or slow: fail_open skips greylisting, fail_closed defers with 451 4.3.0");
  t.add_string("greylist.defer_reply", &c.greylist.defer_reply,
               "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in ${seconds} seconds",
               "policy action for a greylisted triplet; ${seconds} is the time left");
  t.add_string("greylist.header", &c.greylist.header,
               "X-Greylist: delayed ${seconds} seconds by mailsan-policyd at ${hostname}; ${date}",
               "header prepended once per message that passed after a delay");
  return t;
}

}  // namespace mailsan::policyd
