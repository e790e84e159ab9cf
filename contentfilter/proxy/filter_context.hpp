// What every proxy session of mailsan-filter shares: the settings in force
// (swapped whole on SIGHUP; a session keeps the ones it started with), the
// scanners, the quarantine, the Redis client and the metrics.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/redis/client.hpp"
#include "common/stats/daily_counters.hpp"
#include "contentfilter/filter_config.hpp"
#include "contentfilter/filter_metrics.hpp"
#include "contentfilter/pipeline/content_config.hpp"
#include "contentfilter/pipeline/content_pipeline.hpp"
#include "contentfilter/quarantine/quarantine.hpp"
#include "contentfilter/scan/scanner.hpp"

namespace mailsan::filter {

struct FilterSettings {
  FilterConfig config;
  std::string hostname;
  boost::asio::ip::tcp::endpoint next_hop;
  ContentPipelineConfig content;  // the scanners, the verdict's policy, scan_timeout
};

// Builds the settings from a configuration; throws std::invalid_argument
// for what the options table cannot check on its own.
// redis: for the scanners that count in Redis (bulk); may be null in tests.
std::shared_ptr<const FilterSettings> make_filter_settings(const FilterConfig& config,
                                                           boost::asio::any_io_executor ex,
                                                           const LongLivedScanners& long_lived,
                                                           redis::Client* redis = nullptr);

struct FilterContext {
  boost::asio::any_io_executor executor;
  std::shared_ptr<const FilterSettings> settings;
  Quarantine* quarantine = nullptr;
  redis::Client* redis = nullptr;
  FilterMetrics* metrics = nullptr;
  stats::DailyCounters* counters = nullptr;  // the shared report counters; may be null
};

}  // namespace mailsan::filter
