// What every proxy session of mailsan-filter shares: the settings in force
// (swapped whole on SIGHUP; a session keeps the ones it started with), the
// scanners, the quarantine, the Redis client and the metrics.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/metrics/registry.hpp"
#include "common/redis/client.hpp"
#include "common/stats/daily_counters.hpp"
#include "contentfilter/filter_config.hpp"
#include "contentfilter/quarantine/quarantine_store.hpp"
#include "contentfilter/scan/scanner.hpp"
#include "contentfilter/verdict/verdict.hpp"

namespace mailsan::filter {

struct FilterSettings {
  FilterConfig config;
  std::string hostname;
  VerdictPolicy policy;
  boost::asio::ip::tcp::endpoint next_hop;
  std::vector<std::shared_ptr<Scanner>> scanners;
};

// Scanners that live as long as the daemon (the ClamAV engine takes seconds
// to load and reloads itself); the others are made anew with each settings.
struct LongLivedScanners {
  std::shared_ptr<Scanner> clamav;
};

// Builds the settings from a configuration; throws std::invalid_argument
// for what the options table cannot check on its own.
// redis: for the scanners that count in Redis (bulk); may be null in tests.
std::shared_ptr<const FilterSettings> make_filter_settings(const FilterConfig& config,
                                                           boost::asio::any_io_executor ex,
                                                           const LongLivedScanners& long_lived,
                                                           redis::Client* redis = nullptr);

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
  metrics::Counter& redis_errors;
  metrics::Histogram& scan_seconds;
  // mailsan_filter_messages_total{verdict="clean|tagged|spam|virus|split|tempfail|..."}
  metrics::Counter& messages(const std::string& verdict);
  // mailsan_filter_scanner_failures_total{scanner="..."}
  metrics::Counter& scanner_failures(const std::string& scanner);
};

struct FilterContext {
  boost::asio::any_io_executor executor;
  std::shared_ptr<const FilterSettings> settings;
  QuarantineStore* quarantine = nullptr;
  redis::Client* redis = nullptr;
  FilterMetrics* metrics = nullptr;
  stats::DailyCounters* counters = nullptr;  // the shared report counters; may be null
};

}  // namespace mailsan::filter
