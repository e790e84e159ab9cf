// Greylisting (SPEC §2.1 step 6) on the triplet (client network, normalised
// sender, recipient), with its state in the Redis shared by every MX.
#pragma once

#include <memory>
#include <string>

#include "common/redis/client.hpp"
#include "policyd/pipeline/check.hpp"
#include "policyd/pipeline/services.hpp"
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
  // Takes [greylist], redis_prefix and hostname.
  GreylistCheck(const PolicydConfig& config, const CheckServices& services);

  std::string_view name() const override { return "greylist"; }
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  const GreylistConfig greylist_;
  const std::string prefix_;
  const std::string hostname_;
  const std::string program_;
  const ReplyTemplate defer_reply_;
  std::string script_args_[5];  // the script's ARGV, formatted once
  redis::Client& redis_;
  PolicydMetrics& metrics_;
};

// Off (nullptr) with [greylist] enable = no.
std::shared_ptr<Check> make_greylist_check(const PolicydConfig& config, CheckServices& services);

}  // namespace mailsan::policyd
