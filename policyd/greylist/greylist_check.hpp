// Greylisting (SPEC §2.1 step 6) on the triplet (client network, normalised
// sender, recipient), with its state in the Redis shared by every MX.
#pragma once

#include <memory>
#include <string>

#include "common/redis/client.hpp"
#include "policyd/pipeline/check.hpp"
#include "policyd/policyd_config.hpp"
#include "policyd/policyd_metrics.hpp"

namespace mailsan::policyd {

// The Redis keys of one triplet: hashes of the untrusted parts, scoped by a
// {client-net} hash tag so the script touches one Cluster slot.
struct GreylistKeys {
  std::string triplet;
  std::string network;  // the auto-whitelist key
};
GreylistKeys greylist_keys(std::string_view prefix, const net::IpAddress& client,
                           std::string_view sender, std::string_view recipient,
                           unsigned ipv4_prefix, unsigned ipv6_prefix);

// "Fri, 27 Nov 2026 01:23:14 +0000" for the header's date.
std::string rfc5322_date(std::time_t t);

class GreylistCheck : public Check {
 public:
  GreylistCheck(redis::Client& redis, PolicydMetrics& metrics);
  void configure(const PolicydConfig& config);

  std::string_view name() const override { return "greylist"; }
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  struct Settings {
    GreylistConfig greylist;
    std::string prefix;
    std::string hostname;
    std::string script_args[5];  // the script's ARGV, formatted once
  };
  redis::Client& redis_;
  PolicydMetrics& metrics_;
  redis::Script script_;
  std::shared_ptr<const Settings> settings_;
};

}  // namespace mailsan::policyd
