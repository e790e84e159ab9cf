#include <catch2/catch.hpp>

#include "common/config/option_table.hpp"
#include "contentfilter/filter_config.hpp"
#include "policyd/policyd_config.hpp"
#include "test/support/process.hpp"

using namespace mailsan;

TEST_CASE("every policyd option has a one-line doc", "[config]") {
  policyd::PolicydConfig c;
  auto table = policyd::make_option_table(c);
  REQUIRE(table.options().size() > 20);
  for (const auto& o : table.options()) {
    INFO(o.name);
    CHECK_FALSE(o.doc.empty());
    CHECK(o.doc.find('\n') == std::string::npos);
  }
}

TEST_CASE("the policyd defaults are the ones SPEC.md promises", "[config]") {
  policyd::PolicydConfig c;
  auto table = policyd::make_option_table(c);
  CHECK(c.listen == "inet:127.0.0.1:10040");
  CHECK(c.redis == "tcp:127.0.0.1:6379");
  CHECK(c.redis_prefix == "mailsan:");
  CHECK(c.request_timeout.count() == 8);
  CHECK(c.greylist.delay.count() == 300);
  CHECK(c.greylist.retry_window.count() == 2 * 86400);
  CHECK(c.greylist.max_age.count() == 35 * 86400);
  CHECK(c.greylist.auto_whitelist == 5);
  CHECK(c.greylist.ipv4_prefix == 24);
  CHECK(c.greylist.ipv6_prefix == 64);
  CHECK(c.greylist.failure_mode == "fail_open");
  CHECK(c.whitelist.recipients == std::vector<std::string>{"postmaster@", "abuse@"});
}

TEST_CASE("etc/policyd.conf.example is what the options table generates", "[config]") {
  policyd::PolicydConfig c;
  auto table = policyd::make_option_table(c);
  auto committed = test::read_file(std::string(MAILSAN_SOURCE_DIR) + "/etc/policyd.conf.example");
  INFO("regenerate with scripts/gen-docs");
  CHECK(committed == config::example_file(table));
}

TEST_CASE("docs/configuration.md is what the options tables generate", "[config]") {
  auto committed = test::read_file(std::string(MAILSAN_SOURCE_DIR) + "/docs/configuration.md");
  policyd::PolicydConfig c;
  auto table = policyd::make_option_table(c);
  INFO("regenerate with scripts/gen-docs");
  CHECK(committed.find(config::markdown_reference(table)) != std::string::npos);
}

TEST_CASE("the example file loads as a valid configuration", "[config]") {
  policyd::PolicydConfig c;
  auto table = policyd::make_option_table(c);
  CHECK_NOTHROW(
      config::load_file(table, std::string(MAILSAN_SOURCE_DIR) + "/etc/policyd.conf.example"));
}

TEST_CASE("every filter option has a one-line doc and the SPEC defaults", "[config]") {
  filter::FilterConfig c;
  auto table = filter::make_option_table(c);
  for (const auto& o : table.options()) {
    INFO(o.name);
    CHECK_FALSE(o.doc.empty());
  }
  CHECK(c.listen == "inet:127.0.0.1:10025");
  CHECK(c.next_hop == "inet:127.0.0.1:10026");
  CHECK(c.scan_timeout.count() == 45);
  CHECK(c.message_size_limit == 52428800);
  CHECK(c.spool_memory_limit == 1048576);
  CHECK(c.quarantine_dir == "/var/lib/mailsan/quarantine");
  CHECK(c.clamav.virus_action == "reject");
  CHECK(c.verdict.spam_tag_score == 5);
  CHECK(c.verdict.spam_reject_score == 10);
}

TEST_CASE("the spam thresholds under [spamd] are refused with their place under [verdict]",
          "[config]") {
  filter::FilterConfig c;
  auto table = filter::make_option_table(c);
  test::TempDir dir("mailsan-moved-test");
  const std::string path = (dir.path() / "filter.conf").string();
  const std::vector<std::pair<std::string, std::string>> moved = {
      {"spam_tag_score = 4",
       "spamd.spam_tag_score has moved: write it as spam_tag_score under "
       "[verdict]"},
      {"spam_reject_score = 9",
       "spamd.spam_reject_score has moved: write it as "
       "spam_reject_score under [verdict]"},
      {"spam_thresholds = bob@example.com=3/6",
       "spamd.spam_thresholds has moved: write it as "
       "spam_thresholds under [verdict]"}};
  for (const auto& [line, message] : moved) {
    INFO(line);
    test::write_file(path, "[spamd]\naddress = inet:127.0.0.1:783\n" + line + "\n");
    CHECK_THROWS_WITH(config::load_file(table, path), path + ":3: " + message);
  }
  test::write_file(path, "[verdict]\nspam_tag_score = 4\nspam_thresholds = bob@example.com=3/6\n");
  CHECK_NOTHROW(config::load_file(table, path));
  CHECK(c.verdict.spam_tag_score == 4);
  CHECK(c.verdict.spam_thresholds == std::vector<std::string>{"bob@example.com=3/6"});
}

TEST_CASE("etc/filter.conf.example and its reference are what the options table generates",
          "[config]") {
  filter::FilterConfig c;
  auto table = filter::make_option_table(c);
  INFO("regenerate with scripts/gen-docs");
  CHECK(test::read_file(std::string(MAILSAN_SOURCE_DIR) + "/etc/filter.conf.example") ==
        config::example_file(table));
  CHECK(test::read_file(std::string(MAILSAN_SOURCE_DIR) + "/docs/configuration.md")
            .find(config::markdown_reference(table)) != std::string::npos);
  filter::FilterConfig loaded;
  auto loaded_table = filter::make_option_table(loaded);
  CHECK_NOTHROW(config::load_file(loaded_table,
                                  std::string(MAILSAN_SOURCE_DIR) + "/etc/filter.conf.example"));
}
