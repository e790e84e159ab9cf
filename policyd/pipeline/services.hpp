// What checks are built with besides the configuration: the daemon's
// long-lived clients and state, made once at start and kept across reloads
// (connections, caches, callouts in flight), while the checks themselves are
// built anew from each configuration.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <string>

#include "common/dns/resolver.hpp"
#include "common/ldap/directory.hpp"
#include "common/redis/client.hpp"
#include "common/stats/daily_counters.hpp"
#include "policyd/policyd_metrics.hpp"

namespace mailsan::policyd {

class CalloutService;

struct CheckServices {
  boost::asio::any_io_executor executor;
  PolicydMetrics& metrics;
  redis::Client& redis;
  dns::Resolver& resolver;
  ldap::Directory* directory = nullptr;      // null when [ldap] uri was empty at start
  CalloutService* callouts = nullptr;        // null when the daemon runs no callouts
  stats::DailyCounters* counters = nullptr;  // the shared report counters; may be null
  // The daemon's name in headers it writes (${program}: "mailsan-policyd").
  std::string program = "mailsan-policyd";
};

}  // namespace mailsan::policyd
