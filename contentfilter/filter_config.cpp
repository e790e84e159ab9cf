#include "contentfilter/filter_config.hpp"

#include <cctype>
#include <stdexcept>

#include "common/config/values.hpp"
#include "common/net/endpoint_address.hpp"
#include "common/util/ascii.hpp"

namespace mailsan::filter {
namespace {

// Postfix's smtpd_proxy_filter and the after-filter smtpd are TCP services
// here; a host name would need a blocking lookup at start-up.
void check_inet_endpoint(const std::string& value) {
  std::string error;
  auto e = net::parse_endpoint(value, &error);
  if (!e) throw std::invalid_argument(error);
  if (e->kind != net::EndpointAddress::Kind::inet)
    throw std::invalid_argument("must be inet:ADDRESS:PORT");
  for (char ch : e->host)
    if (!(std::isxdigit(static_cast<unsigned char>(ch)) || ch == '.' || ch == ':'))
      throw std::invalid_argument(e->host + " is not a numeric address");
}

// Postfix's smtpd_proxy_filter reaches either kind of socket.
void check_listen_endpoint(const std::string& value) {
  std::string error;
  auto e = net::parse_endpoint(value, &error);
  if (!e) throw std::invalid_argument(error);
  if (e->kind == net::EndpointAddress::Kind::inet) check_inet_endpoint(value);
}

void check_thresholds(const std::string& value) {
  parse_spam_thresholds(config::split_list(value));
}

}  // namespace

std::vector<SpamThreshold> parse_spam_thresholds(const std::vector<std::string>& entries) {
  std::vector<SpamThreshold> out;
  for (const auto& e : entries) {
    auto eq = e.find('=');
    auto slash = e.find('/', eq == std::string::npos ? 0 : eq);
    if (eq == std::string::npos || eq == 0 || slash == std::string::npos)
      throw std::invalid_argument(e +
                                  ": not RECIPIENT=TAG/REJECT (bob@example.com=5/8, "
                                  "example.com=4/10)");
    SpamThreshold t;
    t.match = util::ascii_lower(e.substr(0, eq));
    if (t.match.front() == '@') t.match.erase(0, 1);
    if (t.match.empty()) throw std::invalid_argument(e + ": no recipient or domain");
    try {
      t.tag = config::parse_number(e.substr(eq + 1, slash - eq - 1));
      t.reject = config::parse_number(e.substr(slash + 1));
    } catch (const std::invalid_argument& x) {
      throw std::invalid_argument(e + ": " + x.what());
    }
    if (t.tag > t.reject)
      throw std::invalid_argument(e + ": the tag score is above the reject score");
    out.push_back(std::move(t));
  }
  return out;
}

config::OptionTable make_option_table(FilterConfig& c) {
  using std::chrono::seconds;
  config::OptionTable t("filter");
  t.add_string("listen", &c.listen, "inet:127.0.0.1:10025",
               "where Postfix's smtpd_proxy_filter connects: inet:ADDRESS:PORT or unix:/path")
      .with_check(check_listen_endpoint)
      .restart_only();
  t.add_string("next_hop", &c.next_hop, "inet:127.0.0.1:10026",
               "the after-filter smtpd that accepted mail is handed to: inet:ADDRESS:PORT")
      .with_check(check_inet_endpoint);
  config::CommonRowDocs docs;
  docs.redis =
      "the Redis shared by every MX (quarantine index, bulk counts): tcp:HOST:PORT[/DB], "
      "unix:/path[/DB] or sentinel:NAME@HOST:PORT[,HOST:PORT...][/DB]";
  docs.hostname = "this MX's name, in the greeting and added headers (empty: the system host name)";
  docs.log_level = "the least important log lines written";
  docs.user = "user to run as after binding (empty: stay as started); its group too";
  config::add_common_rows(t, c, docs);
  config::add_common_process_rows(t, c, docs);
  t.add_integer("max_connections", &c.max_connections, 200, 1, 100000,
                "connections from Postfix at once; more are refused with 421 (match the smtpd "
                "process limit)");
  t.add_duration("command_timeout", &c.command_timeout, seconds(300), seconds(1), seconds(3600),
                 "limit for one whole command from Postfix, the wait for it included");
  t.add_duration("data_timeout", &c.data_timeout, seconds(300), seconds(1), seconds(3600),
                 "limit for each read of the message body; the whole body must also arrive "
                 "within data_timeout plus one second per data_min_rate bytes");
  t.add_size("data_min_rate", &c.data_min_rate, 500, 0, std::int64_t{1} << 30,
             "bytes a second the message body must average, past data_timeout, before it is "
             "cut off with 421 (0: only data_timeout per read)");
  t.add_duration("scan_timeout", &c.scan_timeout, seconds(45), seconds(1), seconds(600),
                 "limit for all scanners of a message together (keep it under Postfix's "
                 "smtpd_proxy_timeout)");
  t.add_duration("next_hop_timeout", &c.next_hop_timeout, seconds(60), seconds(1), seconds(600),
                 "limit for each step of handing a message to next_hop");
  t.add_size("message_size_limit", &c.message_size_limit, 52428800, 1024, std::int64_t{1} << 40,
             "largest message accepted (552 5.3.4 above it); match Postfix's message_size_limit");
  t.add_size("spool_memory_limit", &c.spool_memory_limit, 1048576, 0, std::int64_t{1} << 32,
             "a message up to this size is held in memory, a larger one in an unlinked file");
  t.add_string("spool_dir", &c.spool_dir, "/var/lib/mailsan/spool",
               "directory for the unlinked files of large messages");
  t.add_integer("max_recipients", &c.max_recipients, 1000, 1, 100000,
                "recipients per message (452 4.5.3 past it, as RFC 5321 asks)");
  t.add_string("quarantine_dir", &c.quarantine_dir, "/var/lib/mailsan/quarantine",
               "where quarantined messages are kept, one directory each")
      .restart_only();
  t.add_string("virus_reply", &c.virus_reply, "554 5.7.1 Rejected: virus ${virus} found",
               "reply at end-of-DATA to a message with a virus; ${virus}");
  t.add_string("spam_reply", &c.spam_reply, "550 5.7.1 Rejected as spam (score ${score})",
               "reply at end-of-DATA to spam at or above every recipient's reject score; "
               "${score}");
  t.add_string("downstream_failure_reply", &c.downstream_failure_reply,
               "451 4.3.0 Temporary failure passing the message on, try again later",
               "reply when next_hop cannot take the message (the client retries; nothing is "
               "lost)");

  t.add_bool("clamav.enable", &c.clamav.enable, true,
             "scan every message with the ClamAV engine in process")
      .restart_only();
  t.add_string("clamav.db_dir", &c.clamav.db_dir, "/var/lib/clamav",
               "signature database directory; missing or empty stops start-up; its signatures are "
               "reloaded when they change")
      .restart_only();
  t.add_choice("clamav.virus_action", &c.clamav.virus_action, "reject", {"reject", "quarantine"},
               "a message with a virus is refused (554), or accepted and silently quarantined");
  t.add_integer("clamav.workers", &c.clamav.workers, 2, 1, 64,
                "threads scanning (never the I/O thread)")
      .restart_only();
  t.add_size("clamav.max_scan_size", &c.clamav.max_scan_size, 104857600, 1024,
             std::int64_t{1} << 32, "most data scanned per message (CL_ENGINE_MAX_SCANSIZE)")
      .restart_only();
  t.add_size("clamav.max_file_size", &c.clamav.max_file_size, 26214400, 1024, std::int64_t{1} << 32,
             "largest file inside a message scanned (CL_ENGINE_MAX_FILESIZE)")
      .restart_only();
  t.add_integer("clamav.max_recursion", &c.clamav.max_recursion, 20, 1, 100,
                "archive nesting unpacked (CL_ENGINE_MAX_RECURSION)")
      .restart_only();
  t.add_integer("clamav.max_files", &c.clamav.max_files, 10000, 1, 1000000,
                "files unpacked from one message (CL_ENGINE_MAX_FILES)")
      .restart_only();
  t.add_duration("clamav.max_scan_time", &c.clamav.max_scan_time, seconds(15), seconds(1),
                 seconds(3600),
                 "time one scan may take (CL_ENGINE_MAX_SCANTIME; checked between files); "
                 "keep it under scan_timeout")
      .restart_only();
  t.add_integer("clamav.max_mime_parts", &c.clamav.max_mime_parts, 1000, 0, 100000000,
                "lines that may be MIME boundaries in one message; past it only the message "
                "before the first one past is scanned (0: no limit)")
      .restart_only();
  t.add_choice("clamav.limit_action", &c.clamav.limit_action, "deliver", {"deliver", "fail"},
               "a message a limit kept from being scanned whole: delivered as not scanned "
               "(deliver), or a failed scan that failure_mode decides (fail)")
      .restart_only();
  t.add_size("clamav.small_message_size", &c.clamav.small_message_size, 262144, 0,
             std::int64_t{1} << 30,
             "messages up to this size also have a scanning thread of their own, so they never "
             "wait behind large ones (0: no such thread)")
      .restart_only();
  t.add_duration("clamav.reload_check_interval", &c.clamav.reload_check_interval, seconds(60),
                 seconds(1), seconds(86400),
                 "how often db_dir is checked for new signatures (a new engine is built aside and "
                 "swapped in)")
      .restart_only();
  t.add_choice("clamav.failure_mode", &c.clamav.failure_mode, "fail_closed",
               {"fail_closed", "fail_open"},
               "when a scan fails: tempfail the message (fail_closed) or let it through unscanned")
      .restart_only();
  t.add_string("clamav.unavailable_reply", &c.clamav.unavailable_reply,
               "451 4.3.0 Virus scan temporarily unavailable",
               "reply when the virus scan fails and failure_mode is fail_closed")
      .restart_only();

  t.add_bool("spamd.enable", &c.spamd.enable, true, "score every message with spamd");
  t.add_string("spamd.address", &c.spamd.address, "inet:127.0.0.1:783",
               "spamd's address: inet:ADDRESS:PORT or unix:/path")
      .with_check(net::check_endpoint);
  t.add_choice("spamd.mode", &c.spamd.mode, "symbols", {"symbols", "process"},
               "SYMBOLS (score and rules) or PROCESS (also spamd's report)");
  t.add_duration("spamd.timeout", &c.spamd.timeout, seconds(30), seconds(1), seconds(600),
                 "limit for one spamd check (also bounded by scan_timeout)");
  t.add_size("spamd.max_size", &c.spamd.max_size, 512000, 1024, std::int64_t{1} << 30,
             "larger messages are not sent to spamd (as spamc's -s), and count as unchecked");
  t.add_choice("spamd.user", &c.spamd.user, "local_part", {"local_part", "address", "none"},
               "User: sent to spamd for a message with one recipient, for per-user preferences");
  t.add_string("spamd.default_user", &c.spamd.default_user, "",
               "User: for messages with several recipients (empty: none)");
  t.add_choice("spamd.failure_mode", &c.spamd.failure_mode, "fail_open",
               {"fail_open", "fail_closed"},
               "when spamd is down or slow: accept with X-Spam-Status: unchecked, or tempfail");
  t.add_string("spamd.unavailable_reply", &c.spamd.unavailable_reply,
               "451 4.3.0 Spam scan temporarily unavailable",
               "reply when spamd fails and failure_mode is fail_closed");

  t.add_number("verdict.spam_tag_score", &c.verdict.spam_tag_score, 5, -1000, 1000,
               "a score at or above this marks the message as spam (X-Spam-Flag: YES)");
  t.add_number("verdict.spam_reject_score", &c.verdict.spam_reject_score, 10, -1000, 1000,
               "a score at or above this refuses the message for that recipient");
  t.add_list("verdict.spam_thresholds", &c.verdict.spam_thresholds, "",
             "per recipient or domain TAG/REJECT scores: bob@example.com=3/6, example.org=5/20; "
             "a recipient whose copy is refused while others accept gets it in quarantine")
      .with_check(check_thresholds);
  // Under [spamd] until the bulk scanner also scored: the thresholds are the
  // verdict's, whichever scanners add to the score.
  t.add_moved("spamd.spam_tag_score", "verdict.spam_tag_score");
  t.add_moved("spamd.spam_reject_score", "verdict.spam_reject_score");
  t.add_moved("spamd.spam_thresholds", "verdict.spam_thresholds");

  t.add_bool("bulk.enable", &c.bulk.enable, true,
             "count each message's checksums in Redis, shared by every MX (DCC's idea)");
  t.add_integer("bulk.bulk_threshold", &c.bulk.bulk_threshold, 20, 2, 1000000,
                "distinct recipients of one checksum that make a message bulk");
  t.add_duration("bulk.ttl", &c.bulk.ttl, seconds(259200), seconds(60), seconds(60 * 86400),
                 "how long a checksum's recipients are counted after its last copy");
  t.add_list("bulk.spam_traps", &c.bulk.spam_traps, "",
             "addresses no one writes to: mail to them marks its checksums bulk at once");
  t.add_list("bulk.solicited_senders", &c.bulk.solicited_senders, "",
             "senders whose bulk mail is wanted (user@domain, @domain or domain, .subdomain); "
             "their mail, like List-ID mail, is not counted");
  t.add_number("bulk.bulk_score", &c.bulk.bulk_score, 5, -1000, 1000,
               "added to the spam score of a bulk message");
  t.add_size("bulk.max_bytes", &c.bulk.max_bytes, 1048576, 1024, std::int64_t{1} << 30,
             "the checksums are taken over at most this much of the message");

  t.add_bool("marker.enable", &c.marker.enable, false,
             "the test scanner: a header in the message names the verdict (for tests and "
             "wiring checks only)");
  t.add_string("marker.header", &c.marker.header, "X-Mailsan-Test-Verdict",
               "the header the test scanner reads: virus NAME, spam SCORE, fail, slow SECONDS");
  return t;
}

}  // namespace mailsan::filter
