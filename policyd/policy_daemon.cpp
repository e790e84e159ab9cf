#include "policyd/policy_daemon.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "common/config/reload.hpp"
#include "common/daemon/process_setup.hpp"
#include "common/daemon/signal_loop.hpp"
#include "common/dns/resolver.hpp"
#include "common/ldap/directory.hpp"
#include "common/log/log.hpp"
#include "common/metrics/http_endpoint.hpp"
#include "common/redis/client.hpp"
#include "policyd/callout/callout_service.hpp"
#include "policyd/checks.hpp"
#include "policyd/protocol/policy_responder.hpp"
#include "policyd/server/policy_server.hpp"
#include "policyd/whitelist/whitelist.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

void init_logging(const PolicydConfig& c) {
  config::init_logging(c, "mailsan-policyd");
}

// A Redis command must fail before the request's deadline, so that the
// greylisting path needs no deadline timer of its own (see Pipeline).
redis::Options redis_options(const PolicydConfig& c) {
  using std::chrono::milliseconds;
  return config::redis_options(
      c, std::chrono::duration_cast<milliseconds>(c.request_timeout) - milliseconds(500));
}

dns::ResolverOptions resolver_options(const PolicydConfig& c) {
  dns::ResolverOptions o;
  o.servers = c.dns_servers;
  o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(c.dns_timeout);
  o.tries = static_cast<int>(c.dns_tries);
  o.cache_entries = static_cast<std::size_t>(c.dns_cache_entries);
  o.min_ttl = c.dns_min_ttl;
  o.max_ttl = c.dns_max_ttl;
  o.negative_ttl = c.dns_negative_ttl;
  return o;
}

ldap::Options ldap_options(const PolicydConfig& c) {
  ldap::Options o;
  o.uri = c.ldap.uri;
  o.starttls = c.ldap.starttls;
  o.bind_dn = c.ldap.bind_dn;
  o.password_file = c.ldap.password_file;
  o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(c.ldap.timeout);
  o.workers = static_cast<std::size_t>(c.ldap.workers);
  return o;
}

}  // namespace

int run_daemon(const PolicydConfig& initial, std::vector<std::string> args) {
  PolicydConfig config = initial;
  auto listen = daemon::start_process(config, "mailsan-policyd", config.listen);
  if (!listen) return 2;

  asio::io_context io(1);
  auto ex = io.get_executor();
  metrics::Registry registry;
  PolicydMetrics metrics(registry);

  redis::Client redis(ex, redis_options(config));
  redis.set_metrics(&metrics.redis_client);
  // The client logs connects and disconnects itself.
  redis.on_state_change([&](bool up) { metrics.redis_connected.set(up ? 1 : 0); });

  std::unique_ptr<dns::Resolver> resolver;
  try {
    resolver = std::make_unique<dns::Resolver>(ex, resolver_options(config));
  } catch (const std::exception& e) {
    log::error("startup_failed").kv("option", "dns_servers").kv("error", e.what());
    return 2;
  }

  // Only with a uri: without one there is no recipient validation, and no
  // worker threads to keep.
  std::unique_ptr<ldap::Directory> directory;
  if (!config.ldap.uri.empty()) {
    try {
      directory = std::make_unique<ldap::Directory>(ex, ldap_options(config));
    } catch (const std::exception& e) {
      log::error("startup_failed").kv("option", "ldap.uri").kv("error", e.what());
      return 2;
    }
  }

  stats::DailyCounters counters(ex, redis, config.redis_prefix);
  CalloutService callouts(ex, *resolver, redis, metrics);
  CheckServices services{ex,        metrics,          redis, *resolver, directory.get(), &callouts,
                         &counters, "mailsan-policyd"};
  std::shared_ptr<const Pipeline> pipeline;
  try {
    pipeline = build_pipeline(config, services);
  } catch (const std::exception& e) {
    log::error("startup_failed").kv("error", e.what());
    return 2;
  }
  PolicyResponder responder(std::move(pipeline), metrics);

  PolicyServer server(ex, responder, metrics);
  server.set_max_connections(static_cast<std::size_t>(config.max_connections));
  server.set_idle_timeout(config.idle_timeout);
  metrics::HttpEndpoint metrics_endpoint(ex, registry);
  try {
    server.listen(*listen);
    if (!config.metrics_listen.empty()) metrics_endpoint.start(config.metrics_listen);
    daemon::drop_privileges(config.user);
  } catch (const std::exception& e) {
    log::error("startup_failed").kv("error", e.what());
    return 2;
  }

  // Serving before Redis is connected would fail open needlessly for the
  // first requests; wait for it a little, then serve whatever its state.
  redis.start();
  counters.start();
  asio::steady_timer startup_timer(ex);
  asio::co_spawn(
      ex,
      [&]() -> asio::awaitable<void> {
        auto give_up = std::chrono::steady_clock::now() + config.redis_timeout;
        while (!redis.connected() && std::chrono::steady_clock::now() < give_up) {
          startup_timer.expires_after(std::chrono::milliseconds(10));
          co_await startup_timer.async_wait(use_nothrow);
        }
        server.start();
        log::info("started")
            .kv("listen", listen->to_string())
            .kv("redis", config.redis)
            .kv("redis_connected", redis.connected());
      },
      asio::detached);

  bool stopping = false;
  auto whitelist_files = std::make_shared<WhitelistFiles>(config.whitelist.client_files);
  // The one way checks are (re)configured: a new pipeline from the config in
  // force; on failure the running one stays.
  auto rebuild_pipeline = [&](const char* why) {
    try {
      responder.set_pipeline(build_pipeline(config, services));
      log::info("checks_reloaded").kv("why", why);
      return true;
    } catch (const std::exception& e) {
      log::error("reload_failed").kv("why", why).kv("error", e.what());
      return false;
    }
  };

  // Client files reload when they change, without a signal.
  asio::steady_timer file_timer(ex);
  asio::co_spawn(
      ex,
      [&]() -> asio::awaitable<void> {
        while (!stopping) {
          file_timer.expires_after(config.whitelist_reload_interval);
          auto [ec] = co_await file_timer.async_wait(use_nothrow);
          if (ec || stopping) break;
          if (whitelist_files->changed()) rebuild_pipeline("whitelist file changed");
        }
      },
      asio::detached);

  daemon::start_signal_loop(
      io,
      [&] {
        PolicydConfig fresh;
        if (!config::reload_config(make_option_table, args, kDefaultConfigPath, config, &fresh))
          return;
        PolicydConfig previous = std::move(config);
        config = std::move(fresh);
        if (!rebuild_pipeline("SIGHUP")) {
          config = std::move(previous);
          return;
        }
        init_logging(config);
        server.set_max_connections(static_cast<std::size_t>(config.max_connections));
        server.set_idle_timeout(config.idle_timeout);
        whitelist_files = std::make_shared<WhitelistFiles>(config.whitelist.client_files);
        log::info("reloaded");
      },
      [&]() -> asio::awaitable<void> {
        // SIGTERM/SIGINT: stop accepting, let requests in flight finish (they
        // are bounded by request_timeout), then stop everything else.
        log::info("stopping")
            .kv("in_flight", static_cast<std::uint64_t>(server.requests_in_flight()));
        stopping = true;
        server.stop();
        file_timer.cancel();
        co_await daemon::wait_until(
            [&] { return server.requests_in_flight() == 0; },
            std::chrono::steady_clock::now() + config.request_timeout + std::chrono::seconds(1));
        metrics_endpoint.stop();
        counters.stop();
        co_await counters.flush();
        redis.stop();
      });

  io.run();
  log::info("stopped");
  return 0;
}

}  // namespace mailsan::policyd
