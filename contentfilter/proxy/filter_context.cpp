#include "contentfilter/proxy/filter_context.hpp"

#include <boost/asio/ip/address.hpp>
#include <stdexcept>

#include "common/net/endpoint_address.hpp"
#include "contentfilter/bulk/bulk_scanner.hpp"
#include "contentfilter/scan/marker_scanner.hpp"
#include "contentfilter/scan/spamd_scanner.hpp"

namespace mailsan::filter {

std::shared_ptr<const FilterSettings> make_filter_settings(const FilterConfig& config,
                                                           boost::asio::any_io_executor ex,
                                                           const LongLivedScanners& long_lived,
                                                           redis::Client* redis) {
  auto s = std::make_shared<FilterSettings>();
  s->config = config;
  s->hostname = effective_hostname(config);
  auto hop = net::parse_endpoint(config.next_hop);
  if (!hop || hop->kind != net::EndpointAddress::Kind::inet)
    throw std::invalid_argument("next_hop: must be inet:ADDRESS:PORT");
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(hop->host, ec);
  if (ec) throw std::invalid_argument("next_hop: " + hop->host + " is not a numeric address");
  s->next_hop = {address, hop->port};
  VerdictPolicy& p = s->policy;
  p.quarantine_viruses = config.clamav.virus_action == "quarantine";
  p.defaults.tag = config.verdict.spam_tag_score;
  p.defaults.reject = config.verdict.spam_reject_score;
  p.thresholds = parse_spam_thresholds(config.verdict.spam_thresholds);
  p.virus_reply = config.virus_reply;
  p.spam_reply = config.spam_reply;
  p.hostname = s->hostname;
  // The order is the order of the report and of the scanners' own headers.
  if (long_lived.clamav) s->scanners.push_back(long_lived.clamav);
  // spamd: made here, with each settings.
  if (config.spamd.enable) s->scanners.push_back(std::make_shared<SpamdScanner>(ex, config.spamd));
  if (config.bulk.enable && redis)
    s->scanners.push_back(std::make_shared<BulkScanner>(*redis, config.redis_prefix, config.bulk));
  if (config.marker.enable)
    s->scanners.push_back(std::make_shared<MarkerScanner>(ex, config.marker.header));
  return s;
}

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
      redis_errors(r.counter("mailsan_backend_errors_total", "failed backend operations",
                             {{"backend", "redis"}})),
      scan_seconds(r.histogram("mailsan_filter_scan_seconds",
                               "time from end-of-DATA to the verdict, all scanners together")) {}

metrics::Counter& FilterMetrics::messages(const std::string& verdict) {
  return registry.counter("mailsan_filter_messages_total", "messages by verdict",
                          {{"verdict", verdict}});
}

metrics::Counter& FilterMetrics::scanner_failures(const std::string& scanner) {
  return registry.counter("mailsan_filter_scanner_failures_total", "scans that could not complete",
                          {{"scanner", scanner}});
}

}  // namespace mailsan::filter
