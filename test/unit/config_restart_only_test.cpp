#include <catch2/catch.hpp>

#include "common/config/common_rows.hpp"
#include "common/config/option_table.hpp"
#include "common/redis/client.hpp"
#include "contentfilter/filter_config.hpp"
#include "policyd/policyd_config.hpp"

using namespace mailsan;
using config::OptionTable;
using std::chrono::seconds;

namespace {

struct Sample {
  std::string listen;
  std::int64_t workers = 0;
  seconds delay{0};
  std::vector<std::string> servers;
};

OptionTable make_table(Sample& s) {
  OptionTable t("sampled");
  t.add_string("listen", &s.listen, "inet:127.0.0.1:10040", "where clients connect").restart_only();
  t.add_integer("workers", &s.workers, 4, 1, 64, "number of worker threads").restart_only();
  t.add_duration("greylist.delay", &s.delay, seconds(300), seconds(0), seconds(86400),
                 "how long a new triplet waits");
  t.add_list("servers", &s.servers, "", "resolvers").restart_only();
  return t;
}

std::vector<std::string> restart_only_names(const OptionTable& t) {
  std::vector<std::string> out;
  for (const auto& row : t.options())
    if (row.restart_only) out.push_back(row.name);
  return out;
}

}  // namespace

TEST_CASE("restart_only marks the row added last and no other", "[config][restart]") {
  Sample s;
  auto t = make_table(s);
  CHECK(restart_only_names(t) == std::vector<std::string>{"listen", "workers", "servers"});
  CHECK_FALSE(t.find("greylist.delay")->restart_only);

  OptionTable empty("none");
  CHECK_THROWS_AS(empty.restart_only(), std::logic_error);
}

TEST_CASE("keep_restart_only puts the running value back and names what it kept",
          "[config][restart]") {
  Sample running, fresh;
  auto running_table = make_table(running);
  auto fresh_table = make_table(fresh);
  running.listen = "inet:127.0.0.1:9999";
  running.workers = 8;
  running.servers = {"127.0.0.1:53"};
  fresh.listen = "inet:127.0.0.1:1";
  fresh.workers = 8;  // unchanged: not named
  fresh.servers = {"127.0.0.1:53", "127.0.0.2:53"};
  fresh.delay = seconds(60);  // modifiable: the reload applies it

  auto kept = config::keep_restart_only(running_table, fresh_table);

  CHECK(kept == std::vector<std::string>{"listen", "servers"});
  CHECK(fresh.listen == "inet:127.0.0.1:9999");
  CHECK(fresh.workers == 8);
  CHECK(fresh.servers == std::vector<std::string>{"127.0.0.1:53"});
  CHECK(fresh.delay == seconds(60));
  CHECK(running.listen == "inet:127.0.0.1:9999");
}

TEST_CASE("keep_restart_only changes nothing when the restart-only rows are equal",
          "[config][restart]") {
  Sample running, fresh;
  auto running_table = make_table(running);
  auto fresh_table = make_table(fresh);
  fresh.delay = seconds(1);
  CHECK(config::keep_restart_only(running_table, fresh_table).empty());
  CHECK(fresh.delay == seconds(1));
}

TEST_CASE("A table bound before the running config is copied in reads the copy",
          "[config][restart]") {
  // The way the header describes binding the running side: the table holds
  // the fields' addresses, so assigning the whole struct afterwards is seen.
  policyd::PolicydConfig config, running, fresh;
  config.listen = "inet:127.0.0.1:20040";
  config.redis = "tcp:127.0.0.1:7000";
  config.ldap.workers = 9;
  config.greylist.delay = seconds(5);
  auto running_table = policyd::make_option_table(running);
  auto fresh_table = policyd::make_option_table(fresh);
  running = config;

  auto kept = config::keep_restart_only(running_table, fresh_table);

  CHECK(kept == std::vector<std::string>{"listen", "redis", "ldap.workers"});
  CHECK(fresh.listen == "inet:127.0.0.1:20040");
  CHECK(fresh.redis == "tcp:127.0.0.1:7000");
  CHECK(fresh.ldap.workers == 9);
  CHECK(fresh.greylist.delay == seconds(300));
}

TEST_CASE("The daemons mark the options they take only at start", "[config][restart]") {
  policyd::PolicydConfig p;
  auto policyd_rows = restart_only_names(policyd::make_option_table(p));
  CHECK(policyd_rows == std::vector<std::string>{"listen",
                                                 "redis",
                                                 "redis_password_file",
                                                 "redis_sentinel_password_file",
                                                 "redis_database",
                                                 "redis_timeout",
                                                 "metrics_listen",
                                                 "user",
                                                 "dns_servers",
                                                 "dns_timeout",
                                                 "dns_tries",
                                                 "dns_cache_entries",
                                                 "dns_min_ttl",
                                                 "dns_max_ttl",
                                                 "dns_negative_ttl",
                                                 "ldap.uri",
                                                 "ldap.bind_dn",
                                                 "ldap.password_file",
                                                 "ldap.starttls",
                                                 "ldap.timeout",
                                                 "ldap.workers"});

  filter::FilterConfig f;
  auto filter_rows = restart_only_names(filter::make_option_table(f));
  CHECK(filter_rows == std::vector<std::string>{"listen",
                                                "redis",
                                                "redis_password_file",
                                                "redis_sentinel_password_file",
                                                "redis_database",
                                                "redis_timeout",
                                                "metrics_listen",
                                                "user",
                                                "quarantine_dir",
                                                "clamav.enable",
                                                "clamav.db_dir",
                                                "clamav.workers",
                                                "clamav.max_scan_size",
                                                "clamav.max_file_size",
                                                "clamav.max_recursion",
                                                "clamav.max_files",
                                                "clamav.max_scan_time",
                                                "clamav.max_mime_parts",
                                                "clamav.limit_action",
                                                "clamav.small_message_size",
                                                "clamav.reload_check_interval",
                                                "clamav.failure_mode",
                                                "clamav.unavailable_reply"});
}

TEST_CASE("The generated docs say (restart) after a restart-only row's doc", "[config][restart]") {
  Sample s;
  auto t = make_table(s);
  auto example = config::example_file(t);
  CHECK(example.find("# where clients connect (restart)\n") != std::string::npos);
  CHECK(example.find("# how long a new triplet waits\n") != std::string::npos);
  auto reference = config::markdown_reference(t);
  CHECK(reference.find("| where clients connect (restart) |") != std::string::npos);
  CHECK(reference.find("| how long a new triplet waits |") != std::string::npos);
  auto help = config::help_text(t, "sampled", "/etc/sampled.conf");
  CHECK(help.find("      number of worker threads (restart)\n") != std::string::npos);
}

TEST_CASE("Both daemons declare the shared rows alike", "[config][common]") {
  policyd::PolicydConfig p;
  filter::FilterConfig f;
  auto pt = policyd::make_option_table(p);
  auto ft = filter::make_option_table(f);
  for (const char* name :
       {"redis", "redis_prefix", "redis_password_file", "redis_database", "redis_timeout",
        "hostname", "metrics_listen", "log", "log_level", "user"}) {
    INFO(name);
    const auto* a = pt.find(name);
    const auto* b = ft.find(name);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->kind == b->kind);
    CHECK(a->default_value == b->default_value);
    CHECK(a->min == b->min);
    CHECK(a->max == b->max);
    CHECK(a->choices == b->choices);
    CHECK(a->restart_only == b->restart_only);
  }
  // The rows bind the CommonConfig part of each daemon's config.
  pt.find("redis_prefix")->assign("p:");
  ft.find("redis_prefix")->assign("f:");
  CHECK(static_cast<config::CommonConfig&>(p).redis_prefix == "p:");
  CHECK(static_cast<config::CommonConfig&>(f).redis_prefix == "f:");
}

TEST_CASE("redis_options takes the shared rows and the shorter command limit", "[config][common]") {
  config::CommonConfig c;
  c.redis = "unix:/run/redis.sock";
  c.redis_password_file = "/etc/mailsan/redis.pass";
  c.redis_database = 3;
  c.redis_timeout = seconds(2);
  auto o = config::redis_options(c);
  CHECK(o.address == "unix:/run/redis.sock");
  CHECK(o.password_file == "/etc/mailsan/redis.pass");
  CHECK(o.database == 3);
  CHECK(o.command_timeout == std::chrono::milliseconds(2000));
  CHECK(config::redis_options(c, std::chrono::milliseconds(1500)).command_timeout ==
        std::chrono::milliseconds(1500));
  CHECK(config::redis_options(c, std::chrono::milliseconds(5000)).command_timeout ==
        std::chrono::milliseconds(2000));
}

TEST_CASE("effective_hostname is the configured name, else the system's", "[config][common]") {
  config::CommonConfig c;
  CHECK_FALSE(config::effective_hostname(c).empty());
  c.hostname = "mx1.example.com";
  CHECK(config::effective_hostname(c) == "mx1.example.com");
}
