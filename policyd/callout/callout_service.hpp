// Sender-address verification callouts shared by every MX (SPEC §2.1 step
// 5): verdicts are cached in Redis (valid 7 days, invalid 1 day, unknown 2
// hours by default), a callout for an address already being verified here is
// joined rather than repeated, one being verified at another MX (a short
// Redis lock) is not started twice, and callouts per destination domain and
// in all are bounded.
//
// A callout runs detached from the request that started it: when it outlives
// the request's deadline it still finishes and caches its verdict, so the
// sender's retry gets the real answer.
//
// Single-threaded: use from the executor's thread only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/dns/resolver.hpp"
#include "common/redis/client.hpp"
#include "policyd/callout/callout_prober.hpp"
#include "policyd/callout/callout_result.hpp"
#include "policyd/callout/domain_limiter.hpp"
#include "policyd/policyd_metrics.hpp"

namespace mailsan::policyd {

struct CalloutSettings {
  std::string prefix = "mailsan:";
  ProbeSettings probe;
  std::size_t max_per_domain = 4;
  std::size_t max_in_flight = 256;
  std::chrono::seconds valid_ttl{604800};
  std::chrono::seconds invalid_ttl{86400};
  std::chrono::seconds unknown_ttl{7200};
};

// The Redis keys for an address: a digest of it (never the raw text), in a
// hash tag of its own so the verdict and the lock share a Cluster slot.
struct CalloutKeys {
  std::string verdict;
  std::string lock;
};
CalloutKeys callout_keys(std::string_view prefix, std::string_view address);

class CalloutService {
 public:
  CalloutService(boost::asio::any_io_executor ex, dns::Resolver& resolver, redis::Client& redis,
                 PolicydMetrics& metrics);
  void configure(CalloutSettings settings);

  // The cached verdict, or nullopt (not cached, or Redis unavailable: the
  // callout then simply runs).
  boost::asio::awaitable<std::optional<CalloutResult>> cached(std::string address);

  // Starts a callout for the address (or joins the one in flight) and waits
  // for its verdict until `until`; nullopt when it had none by then (it goes
  // on and caches what it finds).
  boost::asio::awaitable<std::optional<CalloutResult>> verify(
      std::string address, std::string domain, std::chrono::steady_clock::time_point until);

  std::size_t in_flight() const { return pending_.size(); }

 private:
  struct Pending {
    explicit Pending(boost::asio::any_io_executor ex) : done(ex) {}
    boost::asio::steady_timer done;  // cancelled when the verdict is in
    std::optional<CalloutResult> result;
  };
  boost::asio::awaitable<void> run(std::string address, std::string domain,
                                   std::shared_ptr<Pending> pending,
                                   std::shared_ptr<const CalloutSettings> settings);
  boost::asio::awaitable<CalloutResult> locked_probe(const std::string& address,
                                                     const std::string& domain,
                                                     const CalloutKeys& keys,
                                                     const CalloutSettings& settings);

  boost::asio::any_io_executor executor_;
  redis::Client& redis_;
  PolicydMetrics& metrics_;
  CalloutProber prober_;
  DomainLimiter limiter_;
  std::shared_ptr<const CalloutSettings> settings_ = std::make_shared<CalloutSettings>();
  std::map<std::string, std::shared_ptr<Pending>, std::less<>> pending_;  // by lower-cased address
};

}  // namespace mailsan::policyd
