// The pipeline's configuration and its scanners (see content_config.hpp).
#include "contentfilter/pipeline/content_config.hpp"

#include "contentfilter/bulk/bulk_scanner.hpp"
#include "contentfilter/scan/marker_scanner.hpp"
#include "contentfilter/scan/spamd_scanner.hpp"

namespace mailsan::filter {

ContentPipelineConfig make_content_config(const FilterConfig& config, const std::string& hostname,
                                          boost::asio::any_io_executor ex,
                                          const LongLivedScanners& long_lived,
                                          redis::Client* redis) {
  ContentPipelineConfig c;
  c.scan_timeout = config.scan_timeout;
  c.hostname = hostname;
  VerdictPolicy& p = c.policy;
  p.quarantine_viruses = config.clamav.virus_action == "quarantine";
  p.defaults.tag = config.verdict.spam_tag_score;
  p.defaults.reject = config.verdict.spam_reject_score;
  p.thresholds = parse_spam_thresholds(config.verdict.spam_thresholds);
  p.virus_reply = config.virus_reply;
  p.spam_reply = config.spam_reply;
  p.hostname = hostname;
  // The order is the order of the report and of the scanners' own headers.
  if (long_lived.clamav) c.scanners.push_back(long_lived.clamav);
  if (config.spamd.enable) c.scanners.push_back(std::make_shared<SpamdScanner>(ex, config.spamd));
  if (config.bulk.enable && redis)
    c.scanners.push_back(std::make_shared<BulkScanner>(*redis, config.redis_prefix, config.bulk));
  if (config.marker.enable)
    c.scanners.push_back(std::make_shared<MarkerScanner>(ex, config.marker.header));
  return c;
}

}  // namespace mailsan::filter
