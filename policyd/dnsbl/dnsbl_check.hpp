// DNSBL / DNSWL / RHSBL scoring (SPEC §2.1 step 3), postscreen-style: every
// zone is asked at once, the weights of the zones that list the client (or a
// domain of the request) are summed, and the sum rejects, forces greylisting
// or skips it. A zone that fails or times out scores 0 (SPEC §2.2): a broken
// list must not block mail.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/dns/resolver.hpp"
#include "policyd/dnsbl/dnsbl_entry.hpp"
#include "policyd/pipeline/check.hpp"
#include "policyd/pipeline/services.hpp"
#include "policyd/policyd_config.hpp"
#include "policyd/policyd_metrics.hpp"

namespace mailsan::policyd {

// The sanitised reason of a TXT record, fit for a policy reply: printable
// ASCII only (a line break would end the reply early), at most 200 bytes.
std::string dnsbl_reason(std::string_view txt);

// What the DNSBL lookups found (SPEC §2.1 step 3), recorded when a zone
// listed the client or a domain of the request; the decision adds what the
// score means for the checks after it.
struct DnsblFinding {
  struct Hit {
    std::string zone;
    int weight = 0;
    std::string reason;  // the zone's TXT record, sanitised; may be empty
  };
  int score = 0;
  std::vector<Hit> hits;
  // At or above [rbl] greylist_score: greylisting is forced (past
  // whitelisted recipients and the auto-whitelist) with this delay.
  bool forces_greylisting = false;
  std::chrono::seconds greylist_delay{0};
  // At or below [rbl] skip_score: greylisting and the callout are skipped.
  bool skips_greylisting = false;
  bool skips_callout = false;
};

class DnsblCheck : public Check, public std::enable_shared_from_this<DnsblCheck> {
 public:
  // Takes [rbl] and request_timeout. Throws std::invalid_argument on a
  // malformed entry (the options table has checked them already).
  DnsblCheck(const PolicydConfig& config, dns::Resolver& resolver, PolicydMetrics& metrics);

  std::string_view name() const override { return "dnsbl"; }
  bool has_lookup() const override { return true; }
  boost::asio::awaitable<void> lookup(Transaction& tx) override;
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  const RblConfig rbl_;
  const std::vector<dnsbl::Entry> zones_;
  const std::vector<dnsbl::Entry> rhsbl_;
  // Lookups stop waiting this long before request_timeout, so that a dead
  // list costs its zone's score and not the whole request's verdict.
  const std::chrono::milliseconds budget_;
  const ReplyTemplate reply_;
  dns::Resolver& resolver_;
  PolicydMetrics& metrics_;
};

// Off (nullptr) without zones.
std::shared_ptr<Check> make_dnsbl_check(const PolicydConfig& config, CheckServices& services);

}  // namespace mailsan::policyd
