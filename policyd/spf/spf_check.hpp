// SPF (SPEC §2.1 step 4): the sender's domain (the HELO name for the null
// sender) says whether the client may send for it. Each result maps to a
// configured action; a result that lets the request go on gets a
// Received-SPF: header prepended once per message. The evaluation runs under
// its own budget, shorter than request_timeout, and DNS that fails or is too
// slow is a temperror (SPEC §2.2), never a silent pass.
//
// SECURITY: the explanation (a domain's exp= record) and the header carry
// text from untrusted DNS into the policy reply; a line break there would end
// the reply early, so both are reduced to printable ASCII.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/dns/resolver.hpp"
#include "policyd/pipeline/check.hpp"
#include "policyd/pipeline/services.hpp"
#include "policyd/policyd_config.hpp"
#include "policyd/policyd_metrics.hpp"
#include "policyd/spf/resolver_dns_source.hpp"

namespace mailsan::policyd {

// Printable ASCII only, at most max_length bytes, so that untrusted text can
// go into a policy reply.
std::string spf_reply_safe(std::string_view text, std::size_t max_length);

// What the SPF evaluation found (SPEC §2.1 step 4), recorded by the lookup
// when it ran (there is a client address); the decision adds what the
// result means for the checks after it.
struct SpfFinding {
  spf::Outcome outcome;
  std::string header;  // Received-SPF, built with the request that was asked
  // The result's action is "greylist" (softfail by default): greylisting is
  // forced past whitelisted recipients and the auto-whitelist.
  bool forces_greylisting = false;
  // pass with [spf] pass_skips_callout.
  bool skips_callout = false;
};

class SpfCheck : public Check {
 public:
  // Takes [spf], hostname and request_timeout.
  SpfCheck(const PolicydConfig& config, dns::Resolver& resolver, PolicydMetrics& metrics);

  std::string_view name() const override { return "spf"; }
  bool has_lookup() const override { return true; }
  boost::asio::awaitable<void> lookup(Transaction& tx) override;
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  enum class Action { reject, defer, greylist, proceed };
  const SpfConfig spf_;
  const std::string receiver_;  // this MX's name, for %{r} and the header
  // The evaluation stops waiting this long before request_timeout, so a
  // slow domain costs a temperror and not the whole request's verdict.
  const std::chrono::milliseconds budget_;
  const ReplyTemplate reject_reply_;
  const ReplyTemplate defer_reply_;
  std::array<Action, 7> actions_{};  // indexed by spf::Result
  ResolverDnsSource dns_;
  PolicydMetrics& metrics_;
};

// Off (nullptr) with [spf] enable = no.
std::shared_ptr<Check> make_spf_check(const PolicydConfig& config, CheckServices& services);

}  // namespace mailsan::policyd
