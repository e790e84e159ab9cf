#include "policyd/greylist/greylist_check.hpp"

#include <ctime>

#include "common/log/log.hpp"
#include "common/util/ascii.hpp"
#include "common/util/stable_hash.hpp"
#include "common/util/text_template.hpp"
#include "policyd/greylist/greylist_script.hpp"
#include "policyd/greylist/sender_normalizer.hpp"

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

GreylistCheck::GreylistCheck(redis::Client& redis, PolicydMetrics& metrics)
    : redis_(redis), metrics_(metrics), script_(kGreylistScript) {
  redis_.register_script(script_);
}

void GreylistCheck::configure(const PolicydConfig& config) {
  auto s = std::make_shared<Settings>();
  s->greylist = config.greylist;
  s->prefix = config.redis_prefix;
  s->hostname = effective_hostname(config);
  const auto& g = config.greylist;
  s->script_args[0] = std::to_string(g.delay.count());
  s->script_args[1] = std::to_string(g.retry_window.count());
  s->script_args[2] = std::to_string(g.max_age.count());
  s->script_args[3] = std::to_string(g.auto_whitelist);
  s->script_args[4] = std::to_string(g.auto_whitelist_interval.count());
  settings_ = std::move(s);
}

asio::awaitable<std::optional<Decision>> GreylistCheck::decide(Transaction& tx) {
  // Hold this request's settings even if a reload swaps them meanwhile.
  std::shared_ptr<const Settings> s = settings_;
  const GreylistConfig& g = s->greylist;
  if (!g.enable) co_return std::nullopt;
  if (tx.skip_greylist && !tx.force_greylist) {
    metrics_.check_outcome("greylist", "skipped").inc();
    co_return std::nullopt;
  }
  if (!tx.client_ip) {
    // Postfix sends "unknown" only for clients it cannot name; without an
    // address there is no triplet.
    metrics_.check_outcome("greylist", "no_client_address").inc();
    co_return std::nullopt;
  }
  GreylistKeys keys =
      greylist_keys(s->prefix, *tx.client_ip, tx.request.sender(), tx.request.recipient(),
                    static_cast<unsigned>(g.ipv4_prefix), static_cast<unsigned>(g.ipv6_prefix));
  const std::string_view key_args[] = {keys.triplet, keys.network};
  // Forced greylisting (a DNSBL score) has its own delay and ignores the
  // auto-whitelist, which a listed client must not get past; only then are
  // arguments formatted per request.
  std::string forced_delay;
  std::string_view delay_arg = s->script_args[0];
  std::string_view auto_whitelist_arg = s->script_args[3];
  if (tx.force_greylist) {
    if (tx.greylist_delay) {
      forced_delay = std::to_string(tx.greylist_delay->count());
      delay_arg = forced_delay;
    }
    auto_whitelist_arg = "0";
    tx.notes.push_back("greylist_forced=yes");
  }
  const std::string_view args[] = {delay_arg, s->script_args[1], s->script_args[2],
                                   auto_whitelist_arg, s->script_args[4]};

  redis::Result r = co_await redis_.eval(script_, key_args, args);
  const auto& reply = r.reply;
  bool well_formed = !r.ec && reply.type == redis::Reply::Type::array &&
                     reply.elements.size() == 2 &&
                     reply.elements[1].type == redis::Reply::Type::integer;
  if (!well_formed) {
    metrics_.redis_errors.inc();
    std::string why = r.ec ? r.ec.message() : reply.is_error() ? reply.str : "unexpected reply";
    log::warning("greylist_unavailable").kv("error", why).kv("failure_mode", g.failure_mode);
    if (g.failure_mode == "fail_closed") {
      metrics_.check_outcome("greylist", "fail_closed").inc();
      co_return Decision{"451 4.3.0 Greylisting temporarily unavailable", "fail_closed",
                         "greylist: " + why};
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
    if (!tx.greylist_reply.empty()) {
      // The addresses go into a reply line: printable ASCII only.
      std::string ip = tx.client_ip->to_string();
      std::string sender = callout_text_safe(tx.request.sender(), 320);
      std::string recipient = callout_text_safe(tx.request.recipient(), 320);
      co_return Decision{
          util::expand_template(
              tx.greylist_reply,
              {{"seconds", seconds}, {"sender", sender}, {"recipient", recipient}, {"ip", ip}}),
          "defer", "greylist: new or early triplet, sender not verified"};
    }
    co_return Decision{util::expand_template(g.defer_reply, {{"seconds", seconds}}), "defer",
                       "greylist: new or early triplet"};
  }
  tx.notes.push_back("greylist=" + status);
  if (status == "pass") {
    std::string seconds = std::to_string(value);
    std::string date = rfc5322_date(std::time(nullptr));
    tx.headers.push_back(util::expand_template(
        g.header, {{"seconds", seconds}, {"hostname", s->hostname}, {"date", date}}));
  }
  co_return std::nullopt;
}

}  // namespace mailsan::policyd
