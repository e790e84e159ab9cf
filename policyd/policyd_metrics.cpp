#include "policyd/policyd_metrics.hpp"

namespace mailsan::policyd {

PolicydMetrics::PolicydMetrics(metrics::Registry& r)
    : requests(r.counter("mailsan_policy_requests_total", "policy requests answered")),
      protocol_errors(r.counter("mailsan_policy_protocol_errors_total",
                                "malformed or oversized requests (connection closed)")),
      connections_total(
          r.counter("mailsan_policy_connections_total", "policy connections accepted")),
      connections_refused(
          r.counter("mailsan_policy_connections_refused_total",
                    "connections closed at once: max_connections reached, none of them idle")),
      connections_evicted(
          r.counter("mailsan_policy_connections_evicted_total",
                    "idle connections closed to make room for a new one at max_connections")),
      connections_idle_closed(r.counter("mailsan_policy_connections_idle_closed_total",
                                        "connections closed after idle_timeout without a request")),
      connections(r.gauge("mailsan_policy_connections", "policy connections open now")),
      redis_errors(r.counter("mailsan_backend_errors_total", "failed backend operations",
                             {{"backend", "redis"}})),
      redis_connected(r.gauge("mailsan_backend_up", "1 when the backend connection is up",
                              {{"backend", "redis"}})),
      request_timeouts(r.counter("mailsan_policy_request_timeouts_total",
                                 "requests answered DUNNO because request_timeout passed")),
      dns_cache_hits(r.counter("mailsan_policy_dns_cache_hits_total",
                               "DNS answers the checks got from the resolver's cache")),
      ldap_errors(r.counter("mailsan_backend_errors_total", "failed backend operations",
                            {{"backend", "ldap"}})),
      ldap_cache_hits(r.counter("mailsan_policy_ldap_cache_hits_total",
                                "recipient lookups answered from the in-process cache")),
      redis_client(r),
      registry_(r) {}

metrics::Counter& PolicydMetrics::verdict(std::string_view verdict) {
  auto it = verdicts_.find(verdict);
  if (it != verdicts_.end()) return *it->second;
  auto& c = registry_.counter("mailsan_policy_verdicts_total", "policy replies by verdict",
                              {{"verdict", std::string(verdict)}});
  verdicts_.emplace(std::string(verdict), &c);
  return c;
}

metrics::Histogram& PolicydMetrics::check_latency(std::string_view check) {
  auto it = latencies_.find(check);
  if (it != latencies_.end()) return *it->second;
  auto& h = registry_.histogram("mailsan_policy_check_seconds", "time spent in each check",
                                {{"check", std::string(check)}});
  latencies_.emplace(std::string(check), &h);
  return h;
}

metrics::Counter& PolicydMetrics::check_outcome(std::string_view check, std::string_view outcome) {
  // Looked up on every request: no allocation once the pair was seen.
  auto by_check = outcomes_.find(check);
  if (by_check == outcomes_.end())
    by_check = outcomes_.emplace(std::string(check), decltype(by_check->second){}).first;
  auto it = by_check->second.find(outcome);
  if (it != by_check->second.end()) return *it->second;
  auto& c = registry_.counter("mailsan_policy_check_outcomes_total", "outcomes of each check",
                              {{"check", std::string(check)}, {"outcome", std::string(outcome)}});
  by_check->second.emplace(std::string(outcome), &c);
  return c;
}

metrics::Counter& PolicydMetrics::dnsbl_lookup(std::string_view zone, std::string_view outcome) {
  auto by_zone = dnsbl_lookups_.find(zone);
  if (by_zone == dnsbl_lookups_.end())
    by_zone = dnsbl_lookups_.emplace(std::string(zone), decltype(by_zone->second){}).first;
  auto it = by_zone->second.find(outcome);
  if (it != by_zone->second.end()) return *it->second;
  auto& c =
      registry_.counter("mailsan_policy_dnsbl_lookups_total", "DNSBL lookups by zone and outcome",
                        {{"zone", std::string(zone)}, {"outcome", std::string(outcome)}});
  by_zone->second.emplace(std::string(outcome), &c);
  return c;
}

}  // namespace mailsan::policyd
