#include "policyd/callout/callout_check.hpp"

#include <algorithm>

#include "common/stats/report_rows.hpp"
#include "common/util/ascii.hpp"
#include "policyd/dnsbl/dnsbl_check.hpp"
#include "policyd/spf/spf_check.hpp"

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

namespace {

CalloutSettings service_settings(const PolicydConfig& config) {
  const CalloutConfig& c = config.callout;
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
  return service;
}

}  // namespace

CalloutCheck::CalloutCheck(const PolicydConfig& config, CalloutService& service,
                           PolicydMetrics& metrics)
    : callout_(config.callout),
      budget_(lookup_budget(config.request_timeout)),
      reject_reply_(parse_reply(config.callout.reject_reply)),
      defer_reply_(parse_reply(config.callout.defer_reply)),
      service_(service),
      metrics_(metrics) {
  for (const auto& d : config.local_domains) local_domains_.push_back(util::ascii_lower(d));
  for (const auto& e : callout_.skip_senders) skip_senders_.push_back(util::ascii_lower(e));
  service_.configure(service_settings(config));
}

std::shared_ptr<Check> make_callout_check(const PolicydConfig& config, CheckServices& services) {
  if (!config.callout.enable || !services.callouts) return nullptr;
  return std::make_shared<CalloutCheck>(config, *services.callouts, services.metrics);
}

asio::awaitable<void> CalloutCheck::lookup(Transaction& tx) {
  const std::string_view sender = tx.request.sender;
  // The null sender (DSNs, MDNs) has nothing to verify, and is never
  // refused for being null (RFC 5321 §4.5.5).
  if (sender.empty()) co_return;
  auto at = sender.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == sender.size()) co_return;
  const std::string domain = util::ascii_lower(std::string_view(sender).substr(at + 1));
  if (std::find(local_domains_.begin(), local_domains_.end(), domain) != local_domains_.end())
    co_return;
  if (sender_exempt(skip_senders_, sender)) {
    metrics_.check_outcome("callout", "exempt").inc();
    co_return;
  }
  if (!callout_address_ok(sender)) co_return;
  CalloutFinding& finding = tx.findings.record(CalloutFinding{});
  finding.result = co_await service_.cached(std::string(sender));
}

asio::awaitable<std::optional<Decision>> CalloutCheck::decide(Transaction& tx) {
  CalloutFinding* f = tx.findings.find_mutable<CalloutFinding>();
  if (!f) co_return std::nullopt;  // does not apply to this sender
  // DNSBL (a DNSWL score) and SPF (pass, with pass_skips_callout) say
  // whether a callout is worth its cost.
  const auto* dnsbl = tx.findings.find<DnsblFinding>();
  const auto* spf = tx.findings.find<SpfFinding>();
  if ((dnsbl && dnsbl->skips_callout) || (spf && spf->skips_callout)) {
    metrics_.check_outcome("callout", "skipped").inc();
    co_return std::nullopt;
  }
  const std::string_view sender = tx.request.sender;
  if (f->result) {
    metrics_.check_outcome("callout", "cached_" + std::string(to_string(f->result->verdict))).inc();
    tx.notes.push_back("callout_cache=hit");
  } else {
    std::string domain = util::ascii_lower(std::string_view(sender).substr(sender.rfind('@') + 1));
    auto until = tx.started + budget_;
    std::optional<CalloutResult> verified =
        co_await service_.verify(std::string(sender), std::move(domain), until);
    if (!verified) {
      // Still running: it caches its verdict for the retry that
      // greylisting asks for.
      metrics_.check_outcome("callout", "pending").inc();
      f->result.emplace();
      f->result->reason = "still_running";
    } else {
      metrics_.check_outcome("callout", to_string(verified->verdict)).inc();
      f->result = std::move(verified);
    }
  }
  const CalloutResult& r = *f->result;
  tx.notes.push_back("callout=" + std::string(to_string(r.verdict)));
  if (!r.reason.empty()) tx.notes.push_back("callout_reason=" + r.reason);
  switch (r.verdict) {
    case CalloutResult::Verdict::valid:
      co_return std::nullopt;
    case CalloutResult::Verdict::invalid: {
      std::string safe_sender = callout_text_safe(sender, 320);
      std::string preference = std::to_string(r.mx_preference);
      Decision d = Decision::from(reject_reply_,
                                  {{"sender", safe_sender},
                                   {"preference", preference},
                                   {"mx", r.mx_host},
                                   {"ip", r.mx_ip},
                                   {"reply", r.reply}},
                                  "reject", "callout: " + r.mx_host + " rejected the sender");
      d.report_row = stats::row::sender_verify;
      co_return d;
    }
    case CalloutResult::Verdict::unknown:
      // Greylisting decides; a deferral then tells the sender why.
      f->greylist_reply = defer_reply_;
      co_return std::nullopt;
  }
  co_return std::nullopt;
}

}  // namespace mailsan::policyd
