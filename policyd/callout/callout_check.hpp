// Sender-address verification (SPEC §2.1 step 5) as a check of the pipeline.
// The lookup reads the verdict the MXes share in Redis; the decision, taken
// after DNSBL and SPF have said whether to skip it, starts the callout when
// nothing is cached and waits for it until shortly before request_timeout.
// Invalid senders are rejected in the seed's words; senders that cannot be
// verified are greylisted with a text that says so; valid ones go on.
//
// The null sender, senders in local_domains and [callout] skip_senders are
// never called out.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "policyd/callout/callout_service.hpp"
#include "policyd/pipeline/check.hpp"
#include "policyd/policyd_config.hpp"
#include "policyd/policyd_metrics.hpp"

namespace mailsan::policyd {

// A sender listed in [callout] skip_senders: "user@domain", "@domain" or
// "domain" (the whole domain), ".domain" (its subdomains). Case-insensitive.
bool sender_exempt(const std::vector<std::string>& entries, std::string_view sender);

class CalloutCheck : public Check {
 public:
  CalloutCheck(CalloutService& service, PolicydMetrics& metrics);
  void configure(const PolicydConfig& config);

  std::string_view name() const override { return "callout"; }
  bool enabled() const override { return settings_->callout.enable; }
  bool has_lookup() const override { return settings_->callout.enable; }
  boost::asio::awaitable<void> lookup(Transaction& tx) override;
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  struct Settings {
    CalloutConfig callout;
    std::vector<std::string> local_domains;  // lower-cased
    std::vector<std::string> skip_senders;   // lower-cased
    std::chrono::milliseconds budget{7500};  // request_timeout - 0.5 s
  };
  CalloutService& service_;
  PolicydMetrics& metrics_;
  std::shared_ptr<const Settings> settings_ = std::make_shared<Settings>();
};

}  // namespace mailsan::policyd
