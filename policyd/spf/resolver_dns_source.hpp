// The SPF evaluator's DNS, served by the daemon's async resolver: its cache,
// its coalescing of identical queries and its per-operation cancellation
// (which is how an evaluation past its budget ends) all apply to SPF too.
#pragma once

#include "common/dns/resolver.hpp"
#include "common/spf/spf.hpp"
#include "policyd/policyd_metrics.hpp"

namespace mailsan::policyd {

class ResolverDnsSource : public spf::DnsSource {
 public:
  ResolverDnsSource(dns::Resolver& resolver, PolicydMetrics& metrics)
      : resolver_(resolver), metrics_(metrics) {}
  boost::asio::awaitable<dns::Answer> query(std::string_view name, dns::RecordType type) override;

 private:
  dns::Resolver& resolver_;
  PolicydMetrics& metrics_;
};

}  // namespace mailsan::policyd
