#include "contentfilter/filter_daemon.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sstream>

#include "common/config/reload.hpp"
#include "common/daemon/private_directory.hpp"
#include "common/daemon/process_setup.hpp"
#include "common/daemon/signal_loop.hpp"
#include "common/log/log.hpp"
#include "common/metrics/http_endpoint.hpp"
#include "common/redis/client.hpp"
#include "contentfilter/proxy/filter_server.hpp"
#include "contentfilter/scan/clamav_scanner.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;

namespace {

void init_logging(const FilterConfig& c) {
  config::init_logging(c, "mailsan-filter");
}

}  // namespace

int run_daemon(const FilterConfig& initial, std::vector<std::string> args) {
  FilterConfig config = initial;
  auto listen = daemon::start_process(config, "mailsan-filter", config.listen);
  if (!listen) return 2;

  asio::io_context io(1);
  auto ex = io.get_executor();
  metrics::Registry registry;
  FilterMetrics metrics(registry);
  redis::Client redis(ex, config::redis_options(config));
  redis.set_metrics(&metrics.redis_client);
  FilterContext context;
  LongLivedScanners long_lived;
  context.executor = ex;
  context.metrics = &metrics;
  context.redis = &redis;
  try {
    // Made for `user` now, while we may; checked as `user` after the drop.
    daemon::prepare_private_directory("spool_dir", config.spool_dir, config.user);
    daemon::prepare_private_directory("quarantine_dir", config.quarantine_dir, config.user);
    // The ClamAV engine is built here, once (seconds with the full
    // databases); a missing or empty db_dir ends start-up here.
    if (config.clamav.enable)
      long_lived.clamav = std::make_shared<ClamavScanner>(
          config.clamav, static_cast<std::size_t>(config.max_connections), &registry);
    context.settings = make_filter_settings(config, ex, long_lived, &redis);
  } catch (const std::exception& e) {
    log::error("startup_failed").kv("error", e.what());
    return 2;
  }
  RedisClientIndexConnection quarantine_index(redis);
  Quarantine quarantine(config.quarantine_dir, config.redis_prefix, quarantine_index);
  context.quarantine = &quarantine;
  stats::DailyCounters counters(ex, redis, config.redis_prefix);
  context.counters = &counters;

  FilterServer server(ex, context);
  metrics::HttpEndpoint metrics_endpoint(ex, registry);
  try {
    server.listen(*listen);
    if (!config.metrics_listen.empty()) metrics_endpoint.start(config.metrics_listen);
    daemon::drop_privileges(config.user);
    daemon::check_private_directory("spool_dir", config.spool_dir);
    daemon::check_private_directory("quarantine_dir", config.quarantine_dir);
  } catch (const std::exception& e) {
    log::error("startup_failed").kv("error", e.what());
    return 2;
  }
  redis.start();
  counters.start();
  server.start();
  std::string scanner_names;
  for (const auto& s : context.settings->content.scanners)
    scanner_names += (scanner_names.empty() ? "" : ",") + std::string(s->name());
  log::info("started")
      .kv("listen", listen->to_string())
      .kv("next_hop", config.next_hop)
      .kv("scanners", scanner_names.empty() ? std::string("none") : scanner_names);

  auto reload = [&] {
    FilterConfig fresh;
    if (!config::reload_config(make_option_table, args, kDefaultConfigPath, config, &fresh)) return;
    try {
      // Running as `user` by now: a new spool_dir must already be usable,
      // or messages would fail one by one.
      if (fresh.spool_dir != config.spool_dir)
        daemon::check_private_directory("spool_dir", fresh.spool_dir);
      auto settings = make_filter_settings(fresh, ex, long_lived, &redis);
      config = std::move(fresh);
      init_logging(config);
      quarantine.set_redis_prefix(config.redis_prefix);
      // Sessions keep the settings they started with.
      context.settings = std::move(settings);
      log::info("reloaded");
    } catch (const std::exception& e) {
      log::error("reload_failed").kv("error", e.what());
    }
  };
  // SIGTERM: no new connections; idle ones close; a message being scanned
  // or relayed is finished so that its client gets its answer.
  auto drain = [&]() -> asio::awaitable<void> {
    log::info("stopping").kv("busy", static_cast<std::uint64_t>(server.busy_sessions()));
    auto give_up = std::chrono::steady_clock::now() + config.scan_timeout +
                   config.next_hop_timeout + std::chrono::seconds(5);
    co_await daemon::wait_until(
        [&] {
          server.stop();  // again for sessions that became idle meanwhile
          return server.sessions() == 0;
        },
        give_up, std::chrono::milliseconds(20));
    metrics_endpoint.stop();
    counters.stop();
    co_await counters.flush();
    redis.stop();
  };
  daemon::start_signal_loop(io, reload, drain);

  io.run();
  log::info("stopped");
  return 0;
}

}  // namespace mailsan::filter
