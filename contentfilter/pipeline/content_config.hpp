// The content pipeline's configuration made from mailsan-filter's options:
// the verdict's policy and the scanners, in the order of the report. Every
// front end (the proxy; a milter) builds its pipeline here, so a scanner is
// registered once: its folder, one line in make_content_config(), and its
// option rows in filter_config.*.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "common/redis/client.hpp"
#include "contentfilter/filter_config.hpp"
#include "contentfilter/pipeline/content_pipeline.hpp"
#include "contentfilter/scan/scanner.hpp"

namespace mailsan::filter {

// Scanners that live as long as the daemon (the ClamAV engine takes seconds
// to load and reloads itself); the others are made anew with each config.
struct LongLivedScanners {
  std::shared_ptr<Scanner> clamav;
};

// Throws std::invalid_argument for what the options table cannot check on
// its own (a bad spam_thresholds entry). hostname: this MX's, as
// effective_hostname() gives it. redis: for the scanners that count in
// Redis (bulk); may be null in tests.
ContentPipelineConfig make_content_config(const FilterConfig& config, const std::string& hostname,
                                          boost::asio::any_io_executor ex,
                                          const LongLivedScanners& long_lived,
                                          redis::Client* redis);

}  // namespace mailsan::filter
