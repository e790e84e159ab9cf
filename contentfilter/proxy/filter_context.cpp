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
  s->content.scan_timeout = config.scan_timeout;
  s->content.hostname = s->hostname;
  VerdictPolicy& p = s->content.policy;
  p.quarantine_viruses = config.clamav.virus_action == "quarantine";
  p.defaults.tag = config.verdict.spam_tag_score;
  p.defaults.reject = config.verdict.spam_reject_score;
  p.thresholds = parse_spam_thresholds(config.verdict.spam_thresholds);
  p.virus_reply = config.virus_reply;
  p.spam_reply = config.spam_reply;
  p.hostname = s->hostname;
  // The order is the order of the report and of the scanners' own headers.
  if (long_lived.clamav) s->content.scanners.push_back(long_lived.clamav);
  // spamd: made here, with each settings.
  if (config.spamd.enable)
    s->content.scanners.push_back(std::make_shared<SpamdScanner>(ex, config.spamd));
  if (config.bulk.enable && redis)
    s->content.scanners.push_back(
        std::make_shared<BulkScanner>(*redis, config.redis_prefix, config.bulk));
  if (config.marker.enable)
    s->content.scanners.push_back(std::make_shared<MarkerScanner>(ex, config.marker.header));
  return s;
}

}  // namespace mailsan::filter
