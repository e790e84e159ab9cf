#include "contentfilter/filter_daemon.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <filesystem>
#include <sstream>

#include "common/daemon/process_setup.hpp"
#include "common/log/log.hpp"
#include "common/metrics/http_endpoint.hpp"
#include "common/redis/client.hpp"
#include "contentfilter/proxy/filter_server.hpp"
#include "contentfilter/scan/clamav_scanner.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

void init_logging(const FilterConfig& c) {
  log::Level level = log::Level::info;
  log::parse_level(c.log_level, &level);
  log::init("mailsan-filter", c.log == "syslog" ? log::Sink::syslog : log::Sink::standard_error,
            level);
}

redis::Options redis_options(const FilterConfig& c) {
  redis::Options o;
  o.address = c.redis;
  o.password_file = c.redis_password_file;
  o.database = static_cast<int>(c.redis_database);
  o.command_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(c.redis_timeout);
  return o;
}

// A directory the daemon writes to must exist and be writable by it; it is
// created (mode 0700) when missing, since it holds mail.
void ensure_directory(const std::string& option, const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw std::runtime_error(option + " = " + path + ": " + ec.message());
  if (::access(path.c_str(), W_OK | X_OK) != 0)
    throw std::runtime_error(option + " = " + path + ": not writable");
}

bool reload_config(const std::vector<std::string>& args, FilterConfig* out) {
  FilterConfig fresh;
  auto table = make_option_table(fresh);
  std::string error;
  if (!config::reload_command_line(table, args, kDefaultConfigPath, &error)) {
    log::error("reload_failed").kv("error", error);
    return false;
  }
  *out = std::move(fresh);
  return true;
}

}  // namespace

int run_daemon(const FilterConfig& initial, std::vector<std::string> args) {
  FilterConfig config = initial;
  init_logging(config);
  daemon::raise_file_limit();
  daemon::ignore_sigpipe();

  asio::io_context io(1);
  auto ex = io.get_executor();
  metrics::Registry registry;
  FilterMetrics metrics(registry);

  std::string error;
  auto listen = net::parse_endpoint(config.listen, &error);
  if (!listen) {
    log::error("startup_failed").kv("option", "listen").kv("error", error);
    return 2;
  }
  redis::Client redis(ex, redis_options(config));
  FilterContext context;
  LongLivedScanners long_lived;
  context.executor = ex;
  context.metrics = &metrics;
  context.redis = &redis;
  try {
    ensure_directory("spool_dir", config.spool_dir);
    ensure_directory("quarantine_dir", config.quarantine_dir);
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

  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  asio::steady_timer drain_timer(ex);
  asio::co_spawn(
      ex,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          auto [ec, sig] = co_await signals.async_wait(use_nothrow);
          if (ec) co_return;
          if (sig == SIGHUP) {
            FilterConfig fresh;
            if (!reload_config(args, &fresh)) continue;
            if (fresh.listen != config.listen || fresh.redis != config.redis ||
                fresh.metrics_listen != config.metrics_listen || fresh.user != config.user ||
                fresh.quarantine_dir != config.quarantine_dir)
              log::warning("reload_partial")
                  .kv("note",
                      "listen, redis, metrics_listen, user and quarantine_dir change only with a "
                      "restart");
            try {
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
            continue;
          }
          break;
        }
        // SIGTERM: no new connections; idle ones close; a message being
        // scanned or relayed is finished so that its client gets its answer.
        log::info("stopping").kv("busy", static_cast<std::uint64_t>(server.busy_sessions()));
        server.stop();
        auto give_up = std::chrono::steady_clock::now() + config.scan_timeout +
                       config.next_hop_timeout + std::chrono::seconds(5);
        while (server.sessions() > 0 && std::chrono::steady_clock::now() < give_up) {
          drain_timer.expires_after(std::chrono::milliseconds(20));
          co_await drain_timer.async_wait(use_nothrow);
          server.stop();  // sessions that became idle meanwhile
        }
        signals.cancel();
        metrics_endpoint.stop();
        counters.stop();
        co_await counters.flush();
        redis.stop();
        io.stop();
      },
      asio::detached);

  io.run();
  log::info("stopped");
  return 0;
}

}  // namespace mailsan::filter
