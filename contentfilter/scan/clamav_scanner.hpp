// ClamAV in process (SPEC §3): the engine is loaded from clamav.db_dir and
// compiled once at start-up (a missing or empty database stops start-up),
// messages are scanned on a bounded worker pool — from memory when the
// spool holds them there, else from the spool file — and never on the I/O
// thread; the signatures are reloaded aside when db_dir changes and swapped
// in without a pause (common/clamav/engine_reloader.hpp).
//
// Made once per daemon (LongLivedScanners) and kept across SIGHUP: enable,
// db_dir, workers, small_message_size, the limits and limit_action, the
// reload interval, failure_mode and unavailable_reply change only with a
// restart. A scan a limit cut short reports the message not scanned (with
// the limit), never clean.
//
// SECURITY: the message is untrusted; libclamav parses it within the
// configured limits; a message larger than clamav.max_scan_size is not
// scanned at all (libclamav would look at its first max_scan_size bytes
// only and call the rest clean) and is reported skipped. Virus names come from the signature
// database and are reduced to printable ASCII before they reach a reply, a header or a log.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/clamav/engine.hpp"
#include "common/clamav/engine_reloader.hpp"
#include "common/clamav/scan_pool.hpp"
#include "common/metrics/registry.hpp"
#include "contentfilter/filter_config.hpp"
#include "contentfilter/scan/scanner.hpp"

namespace mailsan::filter {

// A virus name as it may appear in an SMTP reply: printable ASCII without
// spaces (anything else becomes '_'), at most 200 characters, never empty.
std::string sanitize_virus_name(std::string_view name);

class ClamavScanner : public Scanner {
 public:
  // Loads and compiles the engine and starts the workers and the reload
  // watch. queue_limit: scans that may wait for a worker (more are refused
  // at once, and the message fails per failure_mode). registry: where the
  // scanner counts (may be null). Throws std::runtime_error
  // "clamav.db_dir = DIR: REASON" when the database cannot be loaded.
  ClamavScanner(const ClamavConfig& config, std::size_t queue_limit,
                metrics::Registry* registry = nullptr);
  ~ClamavScanner() override;

  std::string_view name() const override { return "clamav"; }
  FailureMode failure_mode() const override { return failure_mode_; }
  std::string unavailable_reply() const override { return unavailable_reply_; }
  boost::asio::awaitable<ScanReport> scan(ScanInput input) override;

  // The engine scans start with now.
  std::shared_ptr<const clamav::Engine> engine() const { return pool_->engine(); }

 private:
  void count(std::string_view result);

  FailureMode failure_mode_;
  std::string unavailable_reply_;
  std::uint64_t max_scan_size_;
  bool deliver_incomplete_;
  metrics::Registry* registry_;
  std::unique_ptr<clamav::ScanPool> pool_;
  std::unique_ptr<clamav::EngineReloader> reloader_;
};

}  // namespace mailsan::filter
