// The counters and histograms mailsan-policyd exports (SPEC §6): every
// outcome of a check has its own counter, as does every backend failure.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/metrics/registry.hpp"
#include "common/redis/client_metrics.hpp"

namespace mailsan::policyd {

class PolicydMetrics {
 public:
  explicit PolicydMetrics(metrics::Registry& registry);

  metrics::Counter& requests;
  metrics::Counter& protocol_errors;
  metrics::Counter& connections_total;
  metrics::Counter& connections_refused;
  metrics::Counter& connections_evicted;
  metrics::Counter& connections_idle_closed;
  metrics::Gauge& connections;
  metrics::Counter& redis_errors;
  metrics::Gauge& redis_connected;
  metrics::Counter& request_timeouts;
  metrics::Counter& dns_cache_hits;
  // LDAP recipient validation: searches that failed or timed out, and
  // answers served from the in-process cache instead of the directory.
  metrics::Counter& ldap_errors;
  metrics::Counter& ldap_cache_hits;
  // The Redis client's master, failovers and time without a master.
  redis::ClientMetrics redis_client;

  // mailsan_policy_verdicts_total{verdict="..."}; created on first use.
  metrics::Counter& verdict(std::string_view verdict);
  // mailsan_policy_check_seconds{check="..."}
  metrics::Histogram& check_latency(std::string_view check);
  // mailsan_policy_check_outcomes_total{check="...",outcome="..."}
  metrics::Counter& check_outcome(std::string_view check, std::string_view outcome);
  // mailsan_policy_dnsbl_lookups_total{outcome="...",zone="..."}: listed,
  // not_listed, failed or timeout per zone, so a broken list shows.
  metrics::Counter& dnsbl_lookup(std::string_view zone, std::string_view outcome);

 private:
  metrics::Registry& registry_;
  std::map<std::string, metrics::Counter*, std::less<>> verdicts_;
  std::map<std::string, metrics::Histogram*, std::less<>> latencies_;
  std::map<std::string, std::map<std::string, metrics::Counter*, std::less<>>, std::less<>>
      outcomes_;
  std::map<std::string, std::map<std::string, metrics::Counter*, std::less<>>, std::less<>>
      dnsbl_lookups_;
};

}  // namespace mailsan::policyd
