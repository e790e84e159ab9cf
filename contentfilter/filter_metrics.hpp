// mailsan-filter's metrics (Prometheus, at metrics_listen), shared by the
// front end (connections, relaying) and the content pipeline (scans,
// verdicts, quarantine).
#pragma once

#include <string>

#include "common/metrics/registry.hpp"
#include "common/redis/client_metrics.hpp"

namespace mailsan::filter {

struct FilterMetrics {
  explicit FilterMetrics(metrics::Registry& registry);
  metrics::Registry& registry;
  metrics::Counter& connections_total;
  metrics::Counter& connections_refused;
  metrics::Gauge& connections;
  metrics::Counter& next_hop_failures;
  metrics::Counter& quarantined;
  metrics::Counter& spooled_to_disk;
  metrics::Counter& message_bytes;
  metrics::Counter& owned_headers_removed;
  metrics::Counter& redis_errors;
  metrics::Histogram& scan_seconds;
  // The Redis client's master, failovers and time without a master.
  redis::ClientMetrics redis_client;
  // mailsan_filter_messages_total{verdict="clean|tagged|spam|virus|split|tempfail|..."}
  metrics::Counter& messages(const std::string& verdict);
  // mailsan_filter_scanner_failures_total{scanner="..."}
  metrics::Counter& scanner_failures(const std::string& scanner);
  // mailsan_filter_unchecked_total{check="spam|virus"}: messages let through
  // without a completed spam check, or without a virus scan (skipped).
  metrics::Counter& unchecked(const std::string& check);
};

}  // namespace mailsan::filter
