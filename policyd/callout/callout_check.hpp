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
#include <optional>
#include <string>
#include <vector>

#include "policyd/callout/callout_service.hpp"
#include "policyd/pipeline/check.hpp"
#include "policyd/pipeline/services.hpp"
#include "policyd/policyd_config.hpp"
#include "policyd/policyd_metrics.hpp"

namespace mailsan::policyd {

// A sender listed in [callout] skip_senders: "user@domain", "@domain" or
// "domain" (the whole domain), ".domain" (its subdomains). Case-insensitive.
bool sender_exempt(const std::vector<std::string>& entries, std::string_view sender);

// Sender verification (SPEC §2.1 step 5), recorded by the lookup when it
// applies to the request (a non-null sender outside local_domains, not
// exempt): the verdict the cache gave, then the one the callout gave.
struct CalloutFinding {
  std::optional<CalloutResult> result;
  // Set when the sender could not be verified: greylisting decides, and a
  // deferral tells the sender why, with ${seconds}, ${sender}, ${recipient}
  // and ${ip}.
  std::optional<ReplyTemplate> greylist_reply;
};

class CalloutCheck : public Check {
 public:
  // Takes [callout], local_domains and request_timeout; configures the
  // long-lived service (callouts in flight keep running across reloads).
  CalloutCheck(const PolicydConfig& config, CalloutService& service, PolicydMetrics& metrics);

  std::string_view name() const override { return "callout"; }
  bool has_lookup() const override { return true; }
  boost::asio::awaitable<void> lookup(Transaction& tx) override;
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  const CalloutConfig callout_;
  std::vector<std::string> local_domains_;  // lower-cased
  std::vector<std::string> skip_senders_;   // lower-cased
  const std::chrono::milliseconds budget_;  // request_timeout - 0.5 s
  const ReplyTemplate reject_reply_;
  const ReplyTemplate defer_reply_;
  CalloutService& service_;
  PolicydMetrics& metrics_;
};

// Off (nullptr) with [callout] enable = no or without a callout service.
std::shared_ptr<Check> make_callout_check(const PolicydConfig& config, CheckServices& services);

}  // namespace mailsan::policyd
