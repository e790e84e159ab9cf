#include "policyd/greylist/greylist_check.hpp"

#include <ctime>

#include "common/log/log.hpp"
#include "common/log/rate_limited.hpp"
#include "common/stats/report_rows.hpp"
#include "common/util/ascii.hpp"
#include "common/util/stable_hash.hpp"
#include "common/util/text_template.hpp"
#include "policyd/callout/callout_check.hpp"
#include "policyd/dnsbl/dnsbl_check.hpp"
#include "policyd/greylist/greylist_script.hpp"
#include "policyd/greylist/sender_normalizer.hpp"
#include "policyd/spf/spf_check.hpp"
#include "policyd/whitelist/whitelist_check.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;

GreylistKeys greylist_keys(std::string_view prefix, const net::IpAddress& client,
                           std::string_view sender, std::string_view recipient,
                           unsigned ipv4_prefix, unsigned ipv6_prefix) {
  const net::IpAddress ip = client.unmapped();
  net::Cidr network{ip.masked(ip.v6 ? ipv6_prefix : ipv4_prefix),
                    ip.v6 ? ipv6_prefix : ipv4_prefix};
  // The network is printed from parsed bytes, never copied from the request.
  const std::string tag = "{" + network.to_string() + "}";
  util::StableHash h;
  h.add(normalize_sender(sender)).separator().add(util::ascii_lower(recipient));
  GreylistKeys keys;
  keys.triplet.reserve(prefix.size() + tag.size() + 24);
  keys.triplet.append(prefix).append("gl:").append(tag).append(":").append(h.hex());
  keys.network.append(prefix).append("awl:").append(tag);
  return keys;
}

std::string rfc5322_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

namespace {

// One script for every pipeline built: registered once with the client,
// which loads it again after a reconnect.
const redis::Script& greylist_script() {
  static const redis::Script script(kGreylistScript);
  return script;
}

// Shared by every pipeline built, so a reload does not restart the count.
log::RateLimited& unavailable_log() {
  static log::RateLimited limited(log::Level::warning, "greylist_unavailable");
  return limited;
}

}  // namespace

GreylistCheck::GreylistCheck(const PolicydConfig& config, const CheckServices& services)
    : greylist_(config.greylist),
      prefix_(config.redis_prefix),
      hostname_(effective_hostname(config)),
      program_(services.program),
      defer_reply_(parse_reply(config.greylist.defer_reply)),
      redis_(services.redis),
      metrics_(services.metrics) {
  redis_.register_script(greylist_script());
  const auto& g = config.greylist;
  script_args_[0] = std::to_string(g.delay.count());
  script_args_[1] = std::to_string(g.retry_window.count());
  script_args_[2] = std::to_string(g.max_age.count());
  script_args_[3] = std::to_string(g.auto_whitelist);
  script_args_[4] = std::to_string(g.auto_whitelist_interval.count());
}

std::shared_ptr<Check> make_greylist_check(const PolicydConfig& config, CheckServices& services) {
  if (!config.greylist.enable) return nullptr;
  return std::make_shared<GreylistCheck>(config, services);
}

asio::awaitable<std::optional<Decision>> GreylistCheck::decide(Transaction& tx) {
  const GreylistConfig& g = greylist_;
  const CheckRequest& r = tx.request;
  // What earlier checks ask of greylisting: DNSBL scores and SPF results
  // force it (past whitelisted recipients and the auto-whitelist, which a
  // listed client must not get past); whitelisted recipients and DNSWL
  // scores skip it; an unverifiable sender changes what a deferral says.
  const auto* dnsbl = tx.findings.find<DnsblFinding>();
  const auto* spf = tx.findings.find<SpfFinding>();
  const auto* callout = tx.findings.find<CalloutFinding>();
  const bool dnsbl_forces = dnsbl && dnsbl->forces_greylisting;
  const bool forced = dnsbl_forces || (spf && spf->forces_greylisting);
  const bool skipped =
      tx.findings.find<RecipientWhitelisted>() || (dnsbl && dnsbl->skips_greylisting);
  if (skipped && !forced) {
    metrics_.check_outcome("greylist", "skipped").inc();
    co_return std::nullopt;
  }
  if (!r.client_ip) {
    // Postfix sends "unknown" only for clients it cannot name; without an
    // address there is no triplet.
    metrics_.check_outcome("greylist", "no_client_address").inc();
    co_return std::nullopt;
  }
  GreylistKeys keys =
      greylist_keys(prefix_, *r.client_ip, r.sender, r.recipient,
                    static_cast<unsigned>(g.ipv4_prefix), static_cast<unsigned>(g.ipv6_prefix));
  const std::string_view key_args[] = {keys.triplet, keys.network};
  // Forced greylisting has its own delay (a DNSBL score's) and ignores the
  // auto-whitelist; only then are arguments formatted per request.
  std::string forced_delay;
  std::string_view delay_arg = script_args_[0];
  std::string_view auto_whitelist_arg = script_args_[3];
  if (forced) {
    if (dnsbl_forces) {
      forced_delay = std::to_string(dnsbl->greylist_delay.count());
      delay_arg = forced_delay;
    }
    auto_whitelist_arg = "0";
    tx.notes.push_back("greylist_forced=yes");
  }
  const std::string_view args[] = {delay_arg, script_args_[1], script_args_[2], auto_whitelist_arg,
                                   script_args_[4]};

  redis::Result result = co_await redis_.eval(greylist_script(), key_args, args);
  const auto& reply = result.reply;
  bool well_formed = !result.ec && reply.type == redis::Reply::Type::array &&
                     reply.elements.size() == 2 &&
                     reply.elements[1].type == redis::Reply::Type::integer;
  if (!well_formed) {
    metrics_.redis_errors.inc();
    std::string why = result.ec          ? result.ec.message()
                      : reply.is_error() ? reply.str
                                         : "unexpected reply";
    // One line per interval with a count: during an outage every request
    // fails the same way.
    unavailable_log().record(
        [&](log::Line& l) { l.kv("error", why).kv("failure_mode", g.failure_mode); });
    if (g.failure_mode == "fail_closed") {
      metrics_.check_outcome("greylist", "fail_closed").inc();
      Decision d;
      d.kind = DecisionKind::defer;
      d.code = 451;
      d.status = "4.3.0";
      d.text = "Greylisting temporarily unavailable";
      d.verdict = "fail_closed";
      d.reason = "greylist: " + why;
      co_return d;
    }
    metrics_.check_outcome("greylist", "fail_open").inc();
    tx.notes.push_back("greylist=fail_open");
    co_return std::nullopt;
  }
  const std::string& status = reply.elements[0].str;
  const std::int64_t value = reply.elements[1].integer;
  metrics_.check_outcome("greylist", status).inc();
  if (status == "defer") {
    std::string seconds = std::to_string(value);
    Decision d;
    if (callout && callout->greylist_reply) {
      // The addresses go into a reply line: printable ASCII only.
      std::string ip = r.client_ip->to_string();
      std::string sender = callout_text_safe(r.sender, 320);
      std::string recipient = callout_text_safe(r.recipient, 320);
      d = Decision::from(
          *callout->greylist_reply,
          {{"seconds", seconds}, {"sender", sender}, {"recipient", recipient}, {"ip", ip}}, "defer",
          "greylist: new or early triplet, sender not verified");
    } else {
      d = Decision::from(defer_reply_, {{"seconds", seconds}}, "defer",
                         "greylist: new or early triplet");
    }
    d.report_row = stats::row::greylisted;
    co_return d;
  }
  tx.notes.push_back("greylist=" + status);
  if (status == "pass") {
    std::string seconds = std::to_string(value);
    std::string date = rfc5322_date(std::time(nullptr));
    tx.headers.push_back(util::expand_template(
        g.header,
        {{"seconds", seconds}, {"program", program_}, {"hostname", hostname_}, {"date", date}}));
  }
  co_return std::nullopt;
}

}  // namespace mailsan::policyd
