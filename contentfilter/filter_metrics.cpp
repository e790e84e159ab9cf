// mailsan-filter's metrics (see filter_metrics.hpp).
#include "contentfilter/filter_metrics.hpp"

namespace mailsan::filter {

FilterMetrics::FilterMetrics(metrics::Registry& r)
    : registry(r),
      connections_total(
          r.counter("mailsan_filter_connections_total", "connections from Postfix accepted")),
      connections_refused(r.counter("mailsan_filter_connections_refused_total",
                                    "connections refused with 421 over max_connections")),
      connections(r.gauge("mailsan_filter_connections", "connections from Postfix open now")),
      next_hop_failures(r.counter("mailsan_filter_next_hop_failures_total",
                                  "messages the next hop did not take (answered 451 upstream)")),
      quarantined(r.counter("mailsan_filter_quarantined_total", "messages put in quarantine")),
      spooled_to_disk(r.counter("mailsan_filter_spooled_to_disk_total",
                                "messages larger than spool_memory_limit, spooled to a file")),
      message_bytes(r.counter("mailsan_filter_message_bytes_total", "message bytes received")),
      owned_headers_removed(
          r.counter("mailsan_filter_owned_headers_removed_total",
                    "incoming copies of headers mailsan writes, removed before scanning")),
      redis_errors(r.counter("mailsan_backend_errors_total", "failed backend operations",
                             {{"backend", "redis"}})),
      scan_seconds(r.histogram("mailsan_filter_scan_seconds",
                               "time from end-of-DATA to the verdict, all scanners together")),
      redis_client(r) {}

metrics::Counter& FilterMetrics::messages(const std::string& verdict) {
  return registry.counter("mailsan_filter_messages_total", "messages by verdict",
                          {{"verdict", verdict}});
}

metrics::Counter& FilterMetrics::scanner_failures(const std::string& scanner) {
  return registry.counter("mailsan_filter_scanner_failures_total", "scans that could not complete",
                          {{"scanner", scanner}});
}

metrics::Counter& FilterMetrics::unchecked(const std::string& check) {
  return registry.counter("mailsan_filter_unchecked_total",
                          "messages let through without a completed spam check or virus scan",
                          {{"check", check}});
}

}  // namespace mailsan::filter
