#include "contentfilter/proxy/filter_context.hpp"

#include <boost/asio/ip/address.hpp>
#include <stdexcept>

#include "common/net/endpoint_address.hpp"

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
  s->content = make_content_config(config, s->hostname, ex, long_lived, redis);
  return s;
}

}  // namespace mailsan::filter
