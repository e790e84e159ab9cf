#include "policyd/spf/resolver_dns_source.hpp"

namespace mailsan::policyd {

boost::asio::awaitable<dns::Answer> ResolverDnsSource::query(std::string_view name,
                                                             dns::RecordType type) {
  dns::Answer answer = co_await resolver_.query(name, type);
  if (answer.from_cache) metrics_.dns_cache_hits.inc();
  co_return answer;
}

}  // namespace mailsan::policyd
