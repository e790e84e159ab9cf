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
#include "policyd/policyd_config.hpp"
#include "policyd/policyd_metrics.hpp"

namespace mailsan::policyd {

// The sanitised reason of a TXT record, fit for a policy reply: printable
// ASCII only (a line break would end the reply early), at most 200 bytes.
std::string dnsbl_reason(std::string_view txt);

class DnsblCheck : public Check {
 public:
  DnsblCheck(dns::Resolver& resolver, PolicydMetrics& metrics);
  // Takes [rbl] and request_timeout; requests in flight keep the settings
  // they started with. Throws std::invalid_argument on a malformed entry
  // (the options table has checked them already).
  void configure(const PolicydConfig& config);

  std::string_view name() const override { return "dnsbl"; }
  // Only with zones configured, so a daemon without any pays for no lookup.
  bool enabled() const override { return settings_->active; }
  bool has_lookup() const override { return settings_->active; }
  boost::asio::awaitable<void> lookup(Transaction& tx) override;
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  struct Settings {
    RblConfig rbl;
    std::vector<dnsbl::Entry> zones;
    std::vector<dnsbl::Entry> rhsbl;
    // Lookups stop waiting this long before request_timeout, so that a dead
    // list costs its zone's score and not the whole request's verdict.
    std::chrono::milliseconds budget{7500};
    bool active = false;
  };
  dns::Resolver& resolver_;
  PolicydMetrics& metrics_;
  std::shared_ptr<const Settings> settings_ = std::make_shared<Settings>();
};

}  // namespace mailsan::policyd
