#include "common/redis/client_metrics.hpp"

namespace mailsan::redis {

ClientMetrics::ClientMetrics(metrics::Registry& registry)
    : registry_(registry),
      failovers_(registry.counter("mailsan_redis_failovers_total",
                                  "times the Redis master changed under the client")),
      no_master_ms_(registry.counter("mailsan_redis_no_master_milliseconds_total",
                                     "time without a usable Redis master, in milliseconds")) {}

void ClientMetrics::set_master(const std::string& endpoint) {
  if (master_ != nullptr) master_->set(0);
  master_ = &registry_.gauge("mailsan_redis_master", "1 for the Redis master in use",
                             {{"address", endpoint}});
  master_->set(1);
}

}  // namespace mailsan::redis
