// mailsan-filter's configuration and its options table (SPEC §3, §6.1). The
// table is the single source of --help, the config parser, --dump-config,
// etc/filter.conf.example and docs/configuration.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config/common_rows.hpp"
#include "common/config/option_table.hpp"

namespace mailsan::filter {

// Spam thresholds for one recipient ("bob@example.com"), a domain
// ("example.com" or "@example.com"), or everyone (the defaults).
struct SpamThreshold {
  std::string match;  // lower-cased; empty for the default
  double tag = 5;
  double reject = 10;
};

// ClamAV in process, and what a virus does whichever scanner found it.
// enable, db_dir, workers and the limits belong to the engine and change
// only with a restart.
struct ClamavConfig {
  bool enable = true;
  std::string db_dir = "/var/lib/clamav";
  std::string virus_action = "reject";  // reject | quarantine
  std::int64_t workers = 2;
  std::int64_t max_scan_size = 104857600;
  std::int64_t max_file_size = 26214400;
  std::int64_t max_recursion = 20;
  std::int64_t max_files = 10000;
  std::chrono::seconds max_scan_time{15};
  std::int64_t max_mime_parts = 1000;
  std::string limit_action = "deliver";  // deliver | fail
  std::int64_t small_message_size = 262144;
  std::chrono::seconds reload_check_interval{60};
  std::string failure_mode = "fail_closed";
  std::string unavailable_reply;
};

// spamd (SpamAssassin's daemon).
struct SpamdConfig {
  bool enable = true;
  std::string address = "inet:127.0.0.1:783";
  std::string mode = "symbols";  // symbols | process
  std::chrono::seconds timeout{30};
  std::int64_t max_size = 512000;
  std::string user = "local_part";  // local_part | address | none
  std::string default_user;
  std::string failure_mode = "fail_open";
  std::string unavailable_reply;
};

// The verdict's own settings: the spam thresholds apply to the score of
// every scanner together (spamd, bulk, ...), not to spamd's alone.
struct VerdictConfig {
  double spam_tag_score = 5;
  double spam_reject_score = 10;
  std::vector<std::string> spam_thresholds;  // "match=TAG/REJECT"
};

// Bulk checksums shared through Redis (SPEC §3).
struct BulkConfig {
  bool enable = true;
  std::int64_t bulk_threshold = 20;
  std::chrono::seconds ttl{259200};
  std::vector<std::string> spam_traps;
  std::vector<std::string> solicited_senders;
  double bulk_score = 5;
  std::int64_t max_bytes = 1048576;
};

// A scanner for tests and for checking the wiring: a header in the message
// says what it finds ("virus NAME", "spam SCORE", "fail", "slow SECONDS").
// Off by default; never turn it on where senders could use it.
struct MarkerConfig {
  bool enable = false;
  std::string header = "X-Mailsan-Test-Verdict";
};

// redis, hostname, metrics_listen, log and user come from CommonConfig.
struct FilterConfig : config::CommonConfig {
  std::string listen;
  std::string next_hop;
  std::int64_t max_connections = 200;
  std::chrono::seconds command_timeout{300};
  std::chrono::seconds data_timeout{300};
  std::int64_t data_min_rate = 500;
  std::chrono::seconds scan_timeout{45};
  std::chrono::seconds next_hop_timeout{60};
  std::int64_t message_size_limit = 52428800;
  std::int64_t spool_memory_limit = 1048576;
  std::string spool_dir;
  std::int64_t max_recipients = 1000;
  std::string quarantine_dir;
  std::string virus_reply;
  std::string spam_reply;
  std::string downstream_failure_reply;
  ClamavConfig clamav;
  SpamdConfig spamd;
  VerdictConfig verdict;
  BulkConfig bulk;
  MarkerConfig marker;
};

// Binds every option to a field of `config` and sets the defaults.
config::OptionTable make_option_table(FilterConfig& config);

// The configured hostname, or the system's when none is configured.
using config::effective_hostname;

// The parsed spam_thresholds entries; throws std::invalid_argument for a bad one.
std::vector<SpamThreshold> parse_spam_thresholds(const std::vector<std::string>& entries);

inline constexpr const char* kDefaultConfigPath = "/etc/mailsan/filter.conf";

}  // namespace mailsan::filter
