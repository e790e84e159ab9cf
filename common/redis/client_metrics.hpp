// The Redis client's own metrics, the same in every daemon: which server is
// the master now, how many failovers the client followed, and how long it
// had no usable master. Registered by each daemon's metrics struct and
// updated by the client (Client::set_metrics).
#pragma once

#include <string>

#include "common/metrics/registry.hpp"

namespace mailsan::redis {

class ClientMetrics {
 public:
  explicit ClientMetrics(metrics::Registry& registry);

  // mailsan_redis_master{address="HOST:PORT"} is 1 for the server in use and
  // 0 for those used before.
  void set_master(const std::string& endpoint);
  void count_failover() { failovers_.inc(); }
  void add_time_without_master(std::uint64_t milliseconds) { no_master_ms_.inc(milliseconds); }

 private:
  metrics::Registry& registry_;
  metrics::Counter& failovers_;
  metrics::Counter& no_master_ms_;
  metrics::Gauge* master_ = nullptr;
};

}  // namespace mailsan::redis
