#include "contentfilter/scan/clamav_scanner.hpp"

#include <stdexcept>

#include "common/log/log.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;

std::string sanitize_virus_name(std::string_view name) {
  constexpr std::size_t kMaxLength = 200;
  std::string out;
  for (char c : name.substr(0, kMaxLength)) out += c > ' ' && c < 0x7f ? c : '_';
  return out.empty() ? std::string("unnamed") : out;
}

namespace {

clamav::EngineLimits limits_of(const ClamavConfig& c) {
  clamav::EngineLimits limits;
  limits.max_scan_size = static_cast<std::uint64_t>(c.max_scan_size);
  limits.max_file_size = static_cast<std::uint64_t>(c.max_file_size);
  limits.max_recursion = static_cast<std::uint32_t>(c.max_recursion);
  limits.max_files = static_cast<std::uint32_t>(c.max_files);
  limits.max_scan_time = std::chrono::duration_cast<std::chrono::milliseconds>(c.max_scan_time);
  limits.max_mime_parts = static_cast<std::uint64_t>(c.max_mime_parts);
  return limits;
}

}  // namespace

ClamavScanner::ClamavScanner(const ClamavConfig& config, std::size_t queue_limit,
                             metrics::Registry* registry)
    : failure_mode_(config.failure_mode == "fail_open" ? FailureMode::open : FailureMode::closed),
      unavailable_reply_(config.unavailable_reply),
      max_scan_size_(static_cast<std::uint64_t>(config.max_scan_size)),
      deliver_incomplete_(config.limit_action == "deliver"),
      registry_(registry) {
  // Watched from before the load, so that a change made while it runs is
  // picked up by the first check.
  auto watch = std::make_unique<clamav::DatabaseWatch>(config.db_dir);
  std::shared_ptr<const clamav::Engine> engine;
  try {
    engine = std::make_shared<const clamav::Engine>(config.db_dir, limits_of(config));
  } catch (const std::exception& e) {
    // The engine names the directory; the operator looks for the option.
    throw std::runtime_error("clamav.db_dir = " + std::string(e.what()));
  }
  log::info("clamav_loaded")
      .kv("db_dir", config.db_dir)
      .kv("signatures", static_cast<std::uint64_t>(engine->signatures()))
      .kv("ms", static_cast<std::int64_t>(engine->build_time().count()));
  if (registry_)
    registry_->gauge("mailsan_filter_clamav_signatures", "signatures in the ClamAV engine in use")
        .set(engine->signatures());
  clamav::ScanPoolOptions pool_options;
  pool_options.workers = static_cast<std::size_t>(config.workers);
  pool_options.queue_limit = queue_limit;
  pool_options.small_message_size = static_cast<std::uint64_t>(config.small_message_size);
  pool_ = std::make_unique<clamav::ScanPool>(std::move(engine), pool_options);
  std::string dir = config.db_dir;
  reloader_ = std::make_unique<clamav::EngineReloader>(
      *pool_, std::move(watch), config.db_dir, limits_of(config),
      std::chrono::duration_cast<std::chrono::milliseconds>(config.reload_check_interval),
      [registry, dir](const clamav::ReloadOutcome& outcome) {
        // On the reloader's thread: logging and the metrics are thread-safe.
        if (outcome.ok) {
          log::info("clamav_reloaded")
              .kv("db_dir", dir)
              .kv("signatures", static_cast<std::uint64_t>(outcome.signatures))
              .kv("ms", static_cast<std::int64_t>(outcome.build_time.count()));
        } else {
          log::error("clamav_reload_failed")
              .kv("error", outcome.error)
              .kv("note", "scanning goes on with the signatures loaded before");
        }
        if (!registry) return;
        registry
            ->counter("mailsan_filter_clamav_reloads_total", "ClamAV signature reloads",
                      {{"outcome", outcome.ok ? "ok" : "failed"}})
            .inc();
        if (outcome.ok)
          registry
              ->gauge("mailsan_filter_clamav_signatures", "signatures in the ClamAV engine in use")
              .set(outcome.signatures);
      });
}

// Out of line: the reloader (which uses the pool) stops before the pool.
ClamavScanner::~ClamavScanner() {
  reloader_.reset();
  pool_.reset();
}

void ClamavScanner::count(std::string_view result) {
  if (!registry_) return;
  registry_
      ->counter("mailsan_filter_clamav_scans_total", "ClamAV scans by result",
                {{"result", std::string(result)}})
      .inc();
}

asio::awaitable<ScanReport> ClamavScanner::scan(ScanInput input) {
  ScanReport report;
  report.scanner = "clamav";
  report.checks_viruses = true;
  const MessageSpool& message = input.message;
  if (message.size() > max_scan_size_) {
    // Skipped, not failed: the failure mode must not tempfail for ever a
    // message that will never be scanned (as spamd's max_size).
    report.skipped = true;
    report.error = "larger than clamav.max_scan_size";
    count("skipped");
    co_return report;
  }
  // The awaitables complete only once the worker is done with the spool,
  // cancelled or not (scan_pool.hpp): the session may reset it after that.
  clamav::ScanResult result;
  if (message.in_memory()) {
    auto scanning = pool_->scan_memory(message.memory());
    result = co_await std::move(scanning);
  } else {
    auto scanning = pool_->scan_fd(message.fd(), message.size());
    result = co_await std::move(scanning);
  }
  switch (result.kind) {
    case clamav::ScanResult::Kind::clean:
      report.completed = true;
      count("clean");
      break;
    case clamav::ScanResult::Kind::virus:
      report.completed = true;
      report.virus = sanitize_virus_name(result.text);
      count("virus");
      break;
    case clamav::ScanResult::Kind::error:
      report.completed = false;
      report.error = result.text;
      count("error");
      break;
    case clamav::ScanResult::Kind::incomplete:
      // Never "clean": the verdict says "clamav: skipped (limit ...)" and
      // writes no X-Virus-Scanned. Delivered by default, since a huge
      // legitimate newsletter must not be lost; with limit_action = fail
      // it is a failed scan and failure_mode decides.
      report.completed = false;
      report.skipped = deliver_incomplete_;
      report.error = "limit " + result.text + " reached";
      count("incomplete");
      log::info("clamav_incomplete")
          .kv("limit", result.text)
          .kv("bytes", static_cast<std::uint64_t>(message.size()));
      break;
  }
  co_return report;
}

}  // namespace mailsan::filter
