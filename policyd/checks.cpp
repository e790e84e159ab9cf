#include "policyd/checks.hpp"

#include "policyd/callout/callout_check.hpp"
#include "policyd/dnsbl/dnsbl_check.hpp"
#include "policyd/greylist/greylist_check.hpp"
#include "policyd/recipient/recipient_check.hpp"
#include "policyd/spf/spf_check.hpp"
#include "policyd/whitelist/whitelist_check.hpp"

namespace mailsan::policyd {
namespace {

// Every check, in the order of SPEC §2.1: a new check is one line here.
constexpr CheckFactory kChecks[] = {
    make_whitelist_check,  // 1. skip: SASL, clients, certificates, recipients
    make_recipient_check,  // 2. LDAP "User unknown"
    make_dnsbl_check,      // 3. DNSBL / DNSWL / RHSBL scoring
    make_spf_check,        // 4. SPF
    make_callout_check,    // 5. sender-address verification
    make_greylist_check,   // 6. greylisting
};

}  // namespace

std::shared_ptr<const Pipeline> build_pipeline(const PolicydConfig& config,
                                               CheckServices& services) {
  auto pipeline = std::make_shared<Pipeline>(
      services.executor, services.metrics,
      std::chrono::duration_cast<std::chrono::milliseconds>(config.request_timeout),
      services.counters);
  for (CheckFactory make : kChecks)
    if (std::shared_ptr<Check> check = make(config, services)) pipeline->add(std::move(check));
  return pipeline;
}

}  // namespace mailsan::policyd
