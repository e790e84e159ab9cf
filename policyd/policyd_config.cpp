#include "policyd/policyd_config.hpp"

#include <unistd.h>

#include <stdexcept>

#include "common/config/values.hpp"
#include "common/dns/names.hpp"
#include "common/net/endpoint_address.hpp"
#include "policyd/dnsbl/dnsbl_entry.hpp"
#include "policyd/pipeline/decision.hpp"
#include "policyd/whitelist/whitelist.hpp"

namespace mailsan::policyd {
namespace {

// Row checks, so that --check-config and start-up report a bad value with
// the file and line like any other.
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

void check_dnsbl_entries(const std::string& value) {
  std::string error;
  for (const auto& entry : config::split_list(value))
    if (!dnsbl::parse_entry(entry, &error)) throw std::invalid_argument(entry + ": " + error);
}

// A reply is written as a Postfix policy action and parsed into a decision
// once, when the configuration is loaded.
void check_reply(const std::string& value) {
  parse_reply(value);
}

void check_dns_servers(const std::string& value) {
  for (const auto& server : config::split_list(value))
    if (!dns::parse_server(server))
      throw std::invalid_argument(server + ": not ADDRESS, ADDRESS:PORT or [IPv6]:PORT");
}

// A filter must take the address somewhere, or every recipient would match
// the same entries.
void check_ldap_filter(const std::string& value) {
  if (value.empty()) return;
  if (value.find("%s") == std::string::npos)
    throw std::invalid_argument("the filter has no %s for the address");
  if (value.front() != '(' || value.back() != ')')
    throw std::invalid_argument("an LDAP filter is enclosed in parentheses");
}

void check_ldap_uri(const std::string& value) {
  for (const auto& uri : config::split_list(value))
    if (uri.rfind("ldap://", 0) != 0 && uri.rfind("ldaps://", 0) != 0 &&
        uri.rfind("ldapi://", 0) != 0)
      throw std::invalid_argument(uri + ": not an ldap://, ldaps:// or ldapi:// URI");
}

void check_readable_files(const std::string& value) {
  for (const auto& path : config::split_list(value))
    if (::access(path.c_str(), R_OK) != 0) throw std::invalid_argument("cannot read " + path);
}

}  // namespace

config::OptionTable make_option_table(PolicydConfig& c) {
  using std::chrono::seconds;
  constexpr std::int64_t kDay = 86400;
  config::OptionTable t("policyd");
  t.add_string("listen", &c.listen, "inet:127.0.0.1:10040",
               "where Postfix's check_policy_service connects: inet:HOST:PORT or unix:/path")
      .with_check(net::check_endpoint)
      .restart_only();
  config::CommonRowDocs docs;
  docs.redis_timeout =
      "a Redis command not answered in this time (at most request_timeout - 0.5 s) is a Redis "
      "failure";
  config::add_common_rows(t, c, docs);
  t.add_duration("request_timeout", &c.request_timeout, seconds(8), seconds(1), seconds(300),
                 "deadline for all checks of one request; past it the answer is DUNNO");
  t.add_list("local_domains", &c.local_domains, "",
             "domains this MX accepts mail for (recipient validation, no callouts)");
  config::add_common_process_rows(t, c, docs);
  t.add_integer("max_connections", &c.max_connections, 4096, 1, 1000000,
                "concurrent policy connections; past it the longest-idle one is closed for the "
                "newcomer (the newcomer is refused when every one has a request in flight)");
  t.add_duration("idle_timeout", &c.idle_timeout, seconds(330), seconds(1), seconds(86400),
                 "a connection without a request for this long is closed (above Postfix's "
                 "smtpd_policy_service_max_idle, 300 s)");
  t.add_duration("whitelist_reload_interval", &c.whitelist_reload_interval, seconds(10), seconds(1),
                 seconds(3600), "how often whitelist files are checked for changes");
  t.add_list("dns_servers", &c.dns_servers, "",
             "DNS resolvers to ask, ADDRESS or ADDRESS:PORT (empty: those of /etc/resolv.conf)")
      .with_check(check_dns_servers)
      .restart_only();
  t.add_duration("dns_timeout", &c.dns_timeout, seconds(2), seconds(1), seconds(30),
                 "how long one try of a DNS query waits for an answer")
      .restart_only();
  t.add_integer(
       "dns_tries", &c.dns_tries, 2, 1, 5,
       "tries of a DNS query before it counts as timed out; a zone that times out scores 0")
      .restart_only();
  t.add_integer("dns_cache_entries", &c.dns_cache_entries, 100000, 100, 10000000,
                "DNS answers kept in memory; the least recently used are dropped")
      .restart_only();
  t.add_duration("dns_min_ttl", &c.dns_min_ttl, seconds(30), seconds(0), seconds(kDay),
                 "DNS answers are cached at least this long, whatever their TTL")
      .restart_only();
  t.add_duration("dns_max_ttl", &c.dns_max_ttl, seconds(kDay), seconds(0), seconds(7 * kDay),
                 "DNS answers are cached at most this long, whatever their TTL")
      .restart_only();
  t.add_duration("dns_negative_ttl", &c.dns_negative_ttl, seconds(300), seconds(0), seconds(kDay),
                 "a name that does not exist is cached at most this long")
      .restart_only();

  t.add_bool("whitelist.sasl_authenticated", &c.whitelist.sasl_authenticated, true,
             "SASL-authenticated clients skip every check");
  t.add_list("whitelist.clients", &c.whitelist.clients, "",
             "clients that skip every check: CIDR, .domain.suffix, host.name or /regex/")
      .with_check(check_client_entries);
  t.add_list("whitelist.client_files", &c.whitelist.client_files, "",
             "files with more client entries, one a line; reloaded when they change")
      .with_check(check_readable_files);
  t.add_list(
       "whitelist.recipients", &c.whitelist.recipients, "postmaster@, abuse@",
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
                 seconds(365 * kDay),
                 "how long a passed triplet or whitelisted client is kept after it was last seen");
  t.add_integer("greylist.auto_whitelist", &c.greylist.auto_whitelist, 5, 0, 1000000,
                "passes after which a client network skips greylisting (0: never)");
  t.add_duration("greylist.auto_whitelist_interval", &c.greylist.auto_whitelist_interval,
                 seconds(3600), seconds(0), seconds(kDay),
                 "a client network's passes count at most once in this interval");
  t.add_integer("greylist.ipv4_prefix", &c.greylist.ipv4_prefix, 24, 8, 32,
                "IPv4 clients are greylisted by network of this prefix length");
  t.add_integer("greylist.ipv6_prefix", &c.greylist.ipv6_prefix, 64, 16, 128,
                "IPv6 clients are greylisted by network of this prefix length");
  t.add_choice(
      "greylist.failure_mode", &c.greylist.failure_mode, "fail_open", {"fail_open", "fail_closed"},
      "Redis down or slow: fail_open skips greylisting, fail_closed defers with 451 4.3.0");
  t.add_string("greylist.defer_reply", &c.greylist.defer_reply,
               "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in ${seconds} seconds",
               "policy action for a greylisted triplet; ${seconds} is the time left")
      .with_check(check_reply);
  t.add_string("greylist.header", &c.greylist.header,
               "X-Greylist: delayed ${seconds} seconds by ${program} at ${hostname}; ${date}",
               "header prepended once per message that passed after a delay; ${program} is the "
               "daemon's name");

  t.add_list("rbl.zones", &c.rbl.zones, "",
             "DNSBL/DNSWL zones for the client address: zone[=d.d.d.d filter]*weight, e.g. "
             "zen.example*2, wl.example=127.0.[0..255].[2..3]*-5 (weight 1 if none)")
      .with_check(check_dnsbl_entries);
  t.add_list("rbl.rhsbl", &c.rbl.rhsbl, "",
             "RHSBL zones for the sender domain, HELO name and client name, written as rbl.zones")
      .with_check(check_dnsbl_entries);
  t.add_integer("rbl.reject_score", &c.rbl.reject_score, 3, 1, 100000,
                "a client whose zones' weights sum to this or more is rejected");
  t.add_integer("rbl.greylist_score", &c.rbl.greylist_score, 1, 1, 100000,
                "a sum of this or more forces greylisting, even for whitelisted recipients and the "
                "auto-whitelist");
  t.add_duration("rbl.greylist_delay", &c.rbl.greylist_delay, seconds(300), seconds(0),
                 seconds(kDay), "how long greylisting forced by the score defers a new triplet");
  t.add_integer("rbl.skip_score", &c.rbl.skip_score, -1, -100000, -1,
                "a sum of this or less (DNSWL listings) skips greylisting and sender verification");
  t.add_string("rbl.reply", &c.rbl.reply,
               "554 5.7.1 Service unavailable; client [${ip}] blocked using ${zone}${reason}",
               "policy action for a rejected client; ${reason} is \"; \" and the zone's TXT "
               "record, or empty")
      .with_check(check_reply);

  const std::vector<std::string> spf_actions = {"reject", "defer", "greylist", "continue"};
  t.add_bool("spf.enable", &c.spf.enable, true,
             "check the sender (the HELO name for the null sender) with SPF, RFC 7208");
  t.add_choice("spf.pass_action", &c.spf.pass_action, "continue", spf_actions,
               "what an SPF pass does: reject, defer, greylist (forced) or continue");
  t.add_choice("spf.fail_action", &c.spf.fail_action, "reject", spf_actions,
               "what an SPF fail does");
  t.add_choice("spf.softfail_action", &c.spf.softfail_action, "greylist", spf_actions,
               "what an SPF softfail does; greylist forces greylisting even where it would be "
               "skipped");
  t.add_choice("spf.neutral_action", &c.spf.neutral_action, "continue", spf_actions,
               "what an SPF neutral result does");
  t.add_choice("spf.none_action", &c.spf.none_action, "continue", spf_actions,
               "what a sender domain without an SPF record does");
  t.add_choice("spf.temperror_action", &c.spf.temperror_action, "defer", spf_actions,
               "what an SPF temporary error does (DNS failing or slower than request_timeout)");
  t.add_choice("spf.permerror_action", &c.spf.permerror_action, "continue", spf_actions,
               "what an SPF permanent error (a broken record) does");
  t.add_bool("spf.pass_skips_callout", &c.spf.pass_skips_callout, false,
             "an SPF pass skips sender verification");
  t.add_bool("spf.header", &c.spf.header, true,
             "prepend a Received-SPF: header once per message that goes on");
  t.add_string("spf.reject_reply", &c.spf.reject_reply,
               "550 5.7.23 <${sender}>: SPF check failed: ${explanation}",
               "policy action for a result whose action is reject; ${sender}, ${result}, "
               "${explanation} (the domain's exp= text, or what went wrong)")
      .with_check(check_reply);
  t.add_string("spf.defer_reply", &c.spf.defer_reply, "451 4.4.3 SPF temporary error",
               "policy action for a result whose action is defer; placeholders as reject_reply")
      .with_check(check_reply);

  t.add_bool("callout.enable", &c.callout.enable, true,
             "verify senders outside local_domains by asking their MX (RCPT TO:<sender>, never "
             "DATA)");
  t.add_integer("callout.port", &c.callout.port, 25, 1, 65535, "SMTP port of the MX hosts asked");
  t.add_string("callout.helo", &c.callout.helo, "", "name sent in EHLO/HELO (empty: hostname)");
  t.add_duration("callout.connect_timeout", &c.callout.connect_timeout, seconds(10), seconds(1),
                 seconds(300), "limit for connecting to one MX address");
  t.add_duration("callout.command_timeout", &c.callout.command_timeout, seconds(20), seconds(1),
                 seconds(600), "limit for the greeting and for each reply");
  t.add_duration("callout.timeout", &c.callout.timeout, seconds(60), seconds(1), seconds(3600),
                 "limit for a whole callout; one that outlives request_timeout goes on and "
                 "caches its verdict for the sender's retry");
  t.add_integer("callout.max_mx", &c.callout.max_mx, 3, 1, 20,
                "MX hosts tried, in preference order, before the sender counts as unknown");
  t.add_integer("callout.max_per_domain", &c.callout.max_per_domain, 4, 1, 1000,
                "callouts at once to one sender domain; more wait their turn");
  t.add_integer("callout.max_in_flight", &c.callout.max_in_flight, 256, 1, 100000,
                "callouts at once in all; past it a sender is not verified now (unknown)");
  t.add_duration("callout.valid_ttl", &c.callout.valid_ttl, seconds(7 * kDay), seconds(0),
                 seconds(365 * kDay), "how long a verified sender is remembered in Redis");
  t.add_duration("callout.invalid_ttl", &c.callout.invalid_ttl, seconds(kDay), seconds(0),
                 seconds(365 * kDay), "how long a sender its MX refused is remembered");
  t.add_duration("callout.unknown_ttl", &c.callout.unknown_ttl, seconds(7200), seconds(0),
                 seconds(365 * kDay),
                 "how long a sender that could not be verified is remembered (it is greylisted "
                 "meanwhile)");
  t.add_list("callout.skip_senders", &c.callout.skip_senders, "",
             "senders never called out: user@domain, @domain or domain, .domain for subdomains "
             "(they are still greylisted)");
  t.add_string("callout.reject_reply", &c.callout.reject_reply,
               "550 5.7.1 <${sender}>... MX ${preference} '${mx}.' [${ip}] for <${sender}> "
               "rejected address saying \"${reply}\"",
               "policy action for a sender its MX refused; ${sender}, ${preference}, ${mx}, "
               "${ip}, ${reply}")
      .with_check(check_reply);
  t.add_string("callout.defer_reply", &c.callout.defer_reply,
               "DEFER_IF_PERMIT 4.7.1 <${recipient}>... from <${sender}> via [${ip}] to "
               "<${recipient}> denied for ${seconds} seconds",
               "greylisting's deferral for a sender that could not be verified; ${recipient}, "
               "${sender}, ${ip}, ${seconds}")
      .with_check(check_reply);

  t.add_string("ldap.uri", &c.ldap.uri, "",
               "LDAP server(s) for recipient validation, ldap:// or ldaps://, several separated by "
               "spaces (empty: no recipient validation)")
      .with_check(check_ldap_uri)
      .restart_only();
  t.add_string("ldap.base", &c.ldap.base, "", "search base of the recipient and alias searches");
  t.add_string("ldap.bind_dn", &c.ldap.bind_dn, "", "DN to bind as (empty: anonymous)")
      .restart_only();
  t.add_string("ldap.password_file", &c.ldap.password_file, "",
               "file whose first line is the bind password")
      .restart_only();
  t.add_bool("ldap.starttls", &c.ldap.starttls, false, "StartTLS on ldap:// connections")
      .restart_only();
  t.add_duration("ldap.timeout", &c.ldap.timeout, seconds(3), seconds(1), seconds(60),
                 "limit for connecting and for each search; a lookup also stops at "
                 "request_timeout - 0.5 s")
      .restart_only();
  t.add_integer("ldap.workers", &c.ldap.workers, 2, 1, 64,
                "threads asking the directory, each with its own connection")
      .restart_only();
  t.add_string("ldap.recipient_filter", &c.ldap.recipient_filter,
               "(&(objectClass=inetLocalMailRecipient)(mailLocalAddress=%s))",
               "filter for a recipient; %s is the address (RFC 4515-escaped), tried as given, "
               "without +detail, and as @domain for a catch-all")
      .with_check(check_ldap_filter);
  t.add_string("ldap.alias_filter", &c.ldap.alias_filter, "",
               "filter for an alias, e.g. (&(objectClass=nisMailAlias)(cn=%s)); %s is the whole "
               "address (empty: no alias search)")
      .with_check(check_ldap_filter);
  t.add_bool("ldap.allow_catchall", &c.ldap.allow_catchall, false,
             "an @domain entry found with recipient_filter accepts every address of the domain");
  t.add_duration("ldap.cache_ttl", &c.ldap.cache_ttl, seconds(300), seconds(0), seconds(kDay),
                 "how long a recipient found in the directory is remembered (0: not cached)");
  t.add_duration("ldap.negative_cache_ttl", &c.ldap.negative_cache_ttl, seconds(60), seconds(0),
                 seconds(kDay), "how long an unknown recipient is remembered (0: not cached)");
  t.add_integer("ldap.cache_entries", &c.ldap.cache_entries, 10000, 0, 10000000,
                "recipients kept in the cache; the least recently used are dropped (0: no cache)");
  t.add_string("ldap.unknown_reply", &c.ldap.unknown_reply, "550 5.1.1 User unknown",
               "policy action for a recipient in local_domains that the directory does not know")
      .with_check(check_reply);
  t.add_string("ldap.unavailable_reply", &c.ldap.unavailable_reply,
               "451 4.3.0 Recipient lookup temporarily unavailable",
               "policy action when the directory is down or too slow: a recipient that cannot be "
               "checked is never accepted")
      .with_check(check_reply);
  return t;
}

}  // namespace mailsan::policyd
