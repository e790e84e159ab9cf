#include "policyd/callout/callout_check.hpp"

#include <algorithm>

#include "common/util/ascii.hpp"
#include "common/util/text_template.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;
using std::chrono::milliseconds;

bool sender_exempt(const std::vector<std::string>& entries, std::string_view sender) {
  const std::string s = util::ascii_lower(sender);
  auto at = s.rfind('@');
  const std::string_view domain =
      at == std::string::npos ? std::string_view() : std::string_view(s).substr(at + 1);
  for (const std::string& e : entries) {
    if (e.empty()) continue;
    if (e.front() == '.') {
      if (domain.size() > e.size() && util::iends_with(domain, e)) return true;
    } else if (e.front() == '@') {
      if (domain == std::string_view(e).substr(1)) return true;
    } else if (e.find('@') != std::string::npos) {
      if (s == e) return true;
    } else if (domain == e) {
      return true;
    }
  }
  return false;
}

CalloutCheck::CalloutCheck(CalloutService& service, PolicydMetrics& metrics)
    : service_(service), metrics_(metrics) {}

void CalloutCheck::configure(const PolicydConfig& config) {
  auto s = std::make_shared<Settings>();
  const CalloutConfig& c = config.callout;
  s->callout = c;
  for (const auto& d : config.local_domains) s->local_domains.push_back(util::ascii_lower(d));
  for (const auto& e : c.skip_senders) s->skip_senders.push_back(util::ascii_lower(e));
  s->budget =
      std::max(milliseconds(500), std::chrono::duration_cast<milliseconds>(config.request_timeout) -
                                      milliseconds(500));

  CalloutSettings service;
  service.prefix = config.redis_prefix;
  service.probe.port = static_cast<unsigned short>(c.port);
  service.probe.helo = c.helo.empty() ? effective_hostname(config) : c.helo;
  service.probe.connect_timeout = std::chrono::duration_cast<milliseconds>(c.connect_timeout);
  service.probe.command_timeout = std::chrono::duration_cast<milliseconds>(c.command_timeout);
  service.probe.total_timeout = std::chrono::duration_cast<milliseconds>(c.timeout);
  service.probe.max_mx = static_cast<int>(c.max_mx);
  service.max_per_domain = static_cast<std::size_t>(c.max_per_domain);
  service.max_in_flight = static_cast<std::size_t>(c.max_in_flight);
  service.valid_ttl = c.valid_ttl;
  service.invalid_ttl = c.invalid_ttl;
  service.unknown_ttl = c.unknown_ttl;
  service_.configure(std::move(service));
  settings_ = std::move(s);
}

asio::awaitable<void> CalloutCheck::lookup(Transaction& tx) {
  std::shared_ptr<const Settings> settings = settings_;
  const Settings& s = *settings;
  std::string_view sender = tx.request.sender();
  // The null sender (DSNs, MDNs) has nothing to verify, and is never
  // refused for being null (RFC 5321 §4.5.5).
  if (sender.empty()) co_return;
  auto at = sender.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == sender.size()) co_return;
  const std::string domain = util::ascii_lower(sender.substr(at + 1));
  if (std::find(s.local_domains.begin(), s.local_domains.end(), domain) != s.local_domains.end())
    co_return;
  if (sender_exempt(s.skip_senders, sender)) {
    metrics_.check_outcome("callout", "exempt").inc();
    co_return;
  }
  if (!callout_address_ok(sender)) co_return;
  tx.callout_applies = true;
  tx.callout = co_await service_.cached(std::string(sender));
}

asio::awaitable<std::optional<Decision>> CalloutCheck::decide(Transaction& tx) {
  std::shared_ptr<const Settings> settings = settings_;
  const Settings& s = *settings;
  if (!tx.callout_applies) co_return std::nullopt;
  if (tx.skip_callout) {
    metrics_.check_outcome("callout", "skipped").inc();
    co_return std::nullopt;
  }
  if (tx.callout) {
    metrics_.check_outcome("callout", "cached_" + std::string(to_string(tx.callout->verdict)))
        .inc();
    tx.notes.push_back("callout_cache=hit");
  } else {
    std::string_view sender = tx.request.sender();
    std::string domain = util::ascii_lower(sender.substr(sender.rfind('@') + 1));
    auto until = tx.started + s.budget;
    tx.callout = co_await service_.verify(std::string(sender), std::move(domain), until);
    if (!tx.callout) {
      // Still running: it caches its verdict for the retry that
      // greylisting asks for.
      metrics_.check_outcome("callout", "pending").inc();
      tx.callout.emplace();
      tx.callout->reason = "still_running";
    } else {
      metrics_.check_outcome("callout", to_string(tx.callout->verdict)).inc();
    }
  }
  const CalloutResult& r = *tx.callout;
  tx.notes.push_back("callout=" + std::string(to_string(r.verdict)));
  if (!r.reason.empty()) tx.notes.push_back("callout_reason=" + r.reason);
  switch (r.verdict) {
    case CalloutResult::Verdict::valid:
      co_return std::nullopt;
    case CalloutResult::Verdict::invalid: {
      std::string sender = callout_text_safe(tx.request.sender(), 320);
      std::string preference = std::to_string(r.mx_preference);
      co_return Decision{util::expand_template(s.callout.reject_reply, {{"sender", sender},
                                                                        {"preference", preference},
                                                                        {"mx", r.mx_host},
                                                                        {"ip", r.mx_ip},
                                                                        {"reply", r.reply}}),
                         "reject", "callout: " + r.mx_host + " rejected the sender"};
    }
    case CalloutResult::Verdict::unknown:
      // Greylisting decides; a deferral then tells the sender why.
      tx.greylist_reply = s.callout.defer_reply;
      co_return std::nullopt;
  }
  co_return std::nullopt;
}

}  // namespace mailsan::policyd
