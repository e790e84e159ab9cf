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
#include "policyd/policyd_config.hpp"
#include "policyd/policyd_metrics.hpp"
#include "policyd/spf/resolver_dns_source.hpp"

namespace mailsan::policyd {

// Printable ASCII only, at most max_length bytes, so that untrusted text can
// go into a policy reply.
std::string spf_reply_safe(std::string_view text, std::size_t max_length);

class SpfCheck : public Check {
 public:
  SpfCheck(dns::Resolver& resolver, PolicydMetrics& metrics);
  // Takes [spf], hostname and request_timeout; requests in flight keep the
  // settings they started with.
  void configure(const PolicydConfig& config);

  std::string_view name() const override { return "spf"; }
  bool enabled() const override { return settings_->spf.enable; }
  bool has_lookup() const override { return settings_->spf.enable; }
  boost::asio::awaitable<void> lookup(Transaction& tx) override;
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  enum class Action { reject, defer, greylist, proceed };
  struct Settings {
    SpfConfig spf;
    std::string receiver;  // this MX's name, for %{r} and the header
    // The evaluation stops waiting this long before request_timeout, so a
    // slow domain costs a temperror and not the whole request's verdict.
    std::chrono::milliseconds budget{7500};
    std::array<Action, 7> actions{};  // indexed by spf::Result
  };
  ResolverDnsSource dns_;
  PolicydMetrics& metrics_;
  std::shared_ptr<const Settings> settings_ = std::make_shared<Settings>();
};

}  // namespace mailsan::policyd
