// mailsan-policyd's configuration and its options table (SPEC §6.1). The
// table is the single source of --help, the config parser, --dump-config,
// etc/policyd.conf.example and docs/configuration-policyd.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config/common_rows.hpp"
#include "common/config/option_table.hpp"

namespace mailsan::policyd {

struct WhitelistConfig {
  bool sasl_authenticated = true;
  std::vector<std::string> clients;
  std::vector<std::string> client_files;
  std::vector<std::string> recipients;
  std::vector<std::string> ccert_fingerprints;
};

struct GreylistConfig {
  bool enable = true;
  std::chrono::seconds delay{300};
  std::chrono::seconds retry_window{172800};
  std::chrono::seconds max_age{3024000};
  std::int64_t auto_whitelist = 5;
  std::chrono::seconds auto_whitelist_interval{3600};
  std::int64_t ipv4_prefix = 24;
  std::int64_t ipv6_prefix = 64;
  std::string failure_mode = "fail_open";
  std::string defer_reply;
  std::string header;
};

struct RblConfig {
  std::vector<std::string> zones;  // "zone[=filter]*weight" entries for the client address
  std::vector<std::string> rhsbl;  // the same for sender domain, HELO and client name
  std::int64_t reject_score = 3;
  std::int64_t greylist_score = 1;
  std::int64_t skip_score = -1;
  std::chrono::seconds greylist_delay{300};
  std::string reply;
};

// SPF (SPEC §2.1 step 4): what each result does. An action is reject, defer,
// greylist or continue.
struct SpfConfig {
  bool enable = true;
  std::string pass_action = "continue";
  std::string fail_action = "reject";
  std::string softfail_action = "greylist";
  std::string neutral_action = "continue";
  std::string none_action = "continue";
  std::string temperror_action = "defer";
  std::string permerror_action = "continue";
  bool pass_skips_callout = false;
  bool header = true;
  std::string reject_reply;
  std::string defer_reply;
};

// Sender-address verification callouts (SPEC §2.1 step 5).
struct CalloutConfig {
  bool enable = true;
  std::int64_t port = 25;
  std::string helo;
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds command_timeout{20};
  std::chrono::seconds timeout{60};
  std::int64_t max_mx = 3;
  std::int64_t max_per_domain = 4;
  std::int64_t max_in_flight = 256;
  std::chrono::seconds valid_ttl{604800};
  std::chrono::seconds invalid_ttl{86400};
  std::chrono::seconds unknown_ttl{7200};
  std::vector<std::string> skip_senders;
  std::string reject_reply;
  std::string defer_reply;
};

// Recipient validation against LDAP (SPEC §2.1 step 2). Off while uri is
// empty. uri, starttls, bind_dn, password_file, timeout and workers belong to
// the connections and change only with a restart.
struct LdapConfig {
  std::string uri;
  std::string base;
  std::string bind_dn;
  std::string password_file;
  bool starttls = false;
  std::chrono::seconds timeout{3};
  std::int64_t workers = 2;
  std::string recipient_filter;
  std::string alias_filter;
  bool allow_catchall = false;
  std::chrono::seconds cache_ttl{300};
  std::chrono::seconds negative_cache_ttl{60};
  std::int64_t cache_entries = 10000;
  std::string unknown_reply;
  std::string unavailable_reply;
};

// redis, hostname, metrics_listen, log and user come from CommonConfig.
struct PolicydConfig : config::CommonConfig {
  std::string listen;
  std::chrono::seconds request_timeout{8};
  std::vector<std::string> local_domains;
  std::int64_t max_connections = 4096;
  std::chrono::seconds idle_timeout{330};
  std::chrono::seconds whitelist_reload_interval{10};
  std::vector<std::string> dns_servers;
  std::chrono::seconds dns_timeout{2};
  std::int64_t dns_tries = 2;
  std::int64_t dns_cache_entries = 100000;
  std::chrono::seconds dns_min_ttl{30};
  std::chrono::seconds dns_max_ttl{86400};
  std::chrono::seconds dns_negative_ttl{300};
  WhitelistConfig whitelist;
  GreylistConfig greylist;
  RblConfig rbl;
  SpfConfig spf;
  CalloutConfig callout;
  LdapConfig ldap;
};

// Binds every option to a field of `config` and sets the defaults.
config::OptionTable make_option_table(PolicydConfig& config);

// The configured hostname, or the system's when none is configured.
using config::effective_hostname;

inline constexpr const char* kDefaultConfigPath = "/etc/mailsan/policyd.conf";

}  // namespace mailsan::policyd
