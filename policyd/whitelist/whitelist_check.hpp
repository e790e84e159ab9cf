// The pipeline's first check (SPEC §2.1 step 1): SASL-authenticated clients,
// whitelisted clients and TLS client certificates skip every other check;
// whitelisted recipients skip greylisting only (they are still validated).
// It decides from the request alone, before any lookup starts.
#pragma once

#include <memory>

#include "policyd/pipeline/check.hpp"
#include "policyd/pipeline/services.hpp"
#include "policyd/policyd_config.hpp"
#include "policyd/whitelist/whitelist.hpp"

namespace mailsan::policyd {

// Recorded when the recipient is whitelisted: greylisting skips it (unless
// a DNSBL score or SPF forces it).
struct RecipientWhitelisted {};

class WhitelistCheck : public Check {
 public:
  WhitelistCheck(std::shared_ptr<const Whitelist> whitelist, PolicydMetrics& metrics)
      : whitelist_(std::move(whitelist)), metrics_(metrics) {}

  std::string_view name() const override { return "whitelist"; }
  bool decides_before_lookups() const override { return true; }
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  const std::shared_ptr<const Whitelist> whitelist_;
  PolicydMetrics& metrics_;
};

// Reads the whitelist files; throws when one cannot be read.
std::shared_ptr<Check> make_whitelist_check(const PolicydConfig& config, CheckServices& services);

}  // namespace mailsan::policyd
